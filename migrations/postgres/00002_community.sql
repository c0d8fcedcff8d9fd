-- +goose Up
-- Moderation, fair-share dispatch and account merges.
ALTER TABLE accounts ADD COLUMN banned_at TIMESTAMPTZ;
ALTER TABLE accounts ADD COLUMN ban_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN merged_into BIGINT REFERENCES accounts (id);
ALTER TABLE accounts ADD COLUMN last_dispatched_at TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00';

ALTER TABLE jobs ADD COLUMN mode TEXT NOT NULL DEFAULT 'std' CHECK (mode IN ('std', 'pro'));
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'fast' CHECK (lane IN ('fast', 'relax'));
ALTER TABLE jobs ADD COLUMN private BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN dispatched_at TIMESTAMPTZ;
-- Jobs queued before this migration are already in asynq.
UPDATE jobs SET dispatched_at = created_at WHERE status IN ('queued', 'running');
-- Jobs not yet handed to workers, per lane, and a member's active jobs.
CREATE INDEX jobs_waiting_idx ON jobs (lane, created_at) WHERE status = 'queued' AND dispatched_at IS NULL;
CREATE INDEX jobs_active_account_idx ON jobs (account_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_gallery_idx ON jobs (finished_at) WHERE status = 'succeeded' AND private = false;

-- Redemption codes: claimed exactly once by a conditional update.
CREATE TABLE redeem_codes (
    code         TEXT PRIMARY KEY,
    credits      BIGINT NOT NULL CHECK (credits > 0),
    batch        TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    redeemed_by  BIGINT REFERENCES accounts (id),
    redeemed_identity TEXT NOT NULL DEFAULT '',
    redeemed_at  TIMESTAMPTZ
);
CREATE INDEX redeem_codes_batch_idx ON redeem_codes (batch);

-- One-time codes that join a second identity to an account.
CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    platform    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    used_by     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX link_codes_account_id_idx ON link_codes (account_id);

-- One like per member (account) per video.
CREATE TABLE likes (
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    platform    TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, account_id)
);
CREATE INDEX likes_created_at_idx ON likes (created_at);
CREATE INDEX likes_account_id_idx ON likes (account_id);

-- +goose Down
DROP TABLE likes;
DROP TABLE link_codes;
DROP TABLE redeem_codes;
DROP INDEX jobs_gallery_idx;
DROP INDEX jobs_active_account_idx;
DROP INDEX jobs_waiting_idx;
ALTER TABLE jobs DROP COLUMN dispatched_at;
ALTER TABLE jobs DROP COLUMN private;
ALTER TABLE jobs DROP COLUMN lane;
ALTER TABLE jobs DROP COLUMN mode;
ALTER TABLE accounts DROP COLUMN last_dispatched_at;
ALTER TABLE accounts DROP COLUMN merged_into;
ALTER TABLE accounts DROP COLUMN ban_reason;
ALTER TABLE accounts DROP COLUMN banned_at;
