-- +goose Up
-- Times are written by the application as UTC text in one fixed format,
-- so they compare correctly as strings.
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    balance     BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

-- One member on one platform. Several identities may share an account.
CREATE TABLE identities (
    platform     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    display_name TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    PRIMARY KEY (platform, user_id)
);
CREATE INDEX identities_account_id_idx ON identities (account_id);

-- A credit hold is taken at submit and ends captured or released exactly once.
-- job_id is no foreign key: the hold is written just before its job, which
-- points back through jobs.hold_id.
CREATE TABLE holds (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    job_id          TEXT NOT NULL DEFAULT '',
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'captured', 'released')),
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      DATETIME NOT NULL,
    resolved_at     DATETIME
);
CREATE INDEX holds_account_id_idx ON holds (account_id);
CREATE INDEX holds_job_id_idx ON holds (job_id);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    platform        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    lang            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    prompt          TEXT NOT NULL DEFAULT '',
    seconds         INTEGER NOT NULL DEFAULT 0,
    seed            BIGINT NOT NULL DEFAULT 0,
    engine          TEXT NOT NULL DEFAULT '',
    price           BIGINT NOT NULL CHECK (price >= 0),
    hold_id         BIGINT NOT NULL REFERENCES holds (id),
    image_key       TEXT NOT NULL DEFAULT '',
    video_key       TEXT NOT NULL DEFAULT '',
    poster_key      TEXT NOT NULL DEFAULT '',
    error_code      TEXT NOT NULL DEFAULT '',
    error_detail    TEXT NOT NULL DEFAULT '',
    reply           BLOB,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      DATETIME NOT NULL,
    started_at      DATETIME,
    finished_at     DATETIME,
    delivered_at    DATETIME,
    FOREIGN KEY (platform, user_id) REFERENCES identities (platform, user_id)
);
CREATE INDEX jobs_status_created_at_idx ON jobs (status, created_at);
CREATE INDEX jobs_account_id_created_at_idx ON jobs (account_id, created_at);
CREATE INDEX jobs_undelivered_idx ON jobs (finished_at) WHERE delivered_at IS NULL;

-- Append only: every balance change is one row; balance = sum(amount).
CREATE TABLE ledger_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    kind            TEXT NOT NULL CHECK (kind <> ''),
    amount          BIGINT NOT NULL,
    balance_after   BIGINT NOT NULL CHECK (balance_after >= 0),
    reason          TEXT NOT NULL DEFAULT '',
    actor           TEXT NOT NULL DEFAULT '',
    job_id          TEXT REFERENCES jobs (id),
    hold_id         BIGINT REFERENCES holds (id),
    idempotency_key TEXT UNIQUE,
    created_at      DATETIME NOT NULL
);
CREATE INDEX ledger_entries_account_id_idx ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_job_id_idx ON ledger_entries (job_id);

-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append only');
END;
-- +goose StatementEnd

-- API tokens: only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    platform     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME,
    FOREIGN KEY (platform, user_id) REFERENCES identities (platform, user_id)
);
CREATE INDEX api_tokens_identity_idx ON api_tokens (platform, user_id);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE ledger_entries;
DROP TABLE jobs;
DROP TABLE holds;
DROP TABLE identities;
DROP TABLE accounts;
