-- +goose Up
-- Camera scripts and output options of a job.
-- shot is the JSON of paimeng.Shot; '' is the zero Shot.
ALTER TABLE jobs ADD COLUMN shot TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN tail_key TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN fps INTEGER NOT NULL DEFAULT 24;
ALTER TABLE jobs ADD COLUMN resolution INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN aspect TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN aspect;
ALTER TABLE jobs DROP COLUMN resolution;
ALTER TABLE jobs DROP COLUMN fps;
ALTER TABLE jobs DROP COLUMN tail_key;
ALTER TABLE jobs DROP COLUMN shot;
