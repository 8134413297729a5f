-- API keys (only a hash of each is kept), who wrote each revision, the change feed's
-- order, and the responses kept for Idempotency-Key retries.

CREATE TABLE api_keys (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    -- The key's public part: finds the row; shown by `keys list` and safe to log.
    prefix        text NOT NULL UNIQUE,
    -- SHA-256 of the whole key. Keys are 256 random bits, so a fast hash is enough: there
    -- is no password to guess, only a key space too large to search.
    secret_hash   bytea NOT NULL,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- The name of the API key that wrote each revision; NULL for management commands (seed).
ALTER TABLE event_revisions ADD COLUMN written_by text;

-- The change feed reads revisions in (txid, seq) order, up to the oldest running writer.
CREATE INDEX event_revisions_feed_idx ON event_revisions (txid, seq);

-- A stored first response per (API key, Idempotency-Key), replayed to retries.
CREATE TABLE idempotency_keys (
    api_key_id    integer NOT NULL REFERENCES api_keys (id),
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    headers       jsonb NOT NULL,
    body          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
