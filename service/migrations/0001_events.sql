-- Events, as served, plus the columns search filters on; and every revision of each.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE events (
    id           uuid PRIMARY KEY,
    key          text UNIQUE,
    type         text NOT NULL,
    version      integer NOT NULL CHECK (version > 0),
    -- The event exactly as the API serves it. `json` (not jsonb) keeps the text as
    -- written, so a read sends it out without parsing or re-serialising.
    body         json NOT NULL,
    -- Derived from body at write time, for search (filters, ranges, full text).
    date_span    daterange NOT NULL,
    certainty    text NOT NULL,
    countries    text[] NOT NULL DEFAULT '{}',
    actor_names  text[] NOT NULL DEFAULT '{}',
    tags         text[] NOT NULL DEFAULT '{}',
    publishers   text[] NOT NULL DEFAULT '{}',
    place        text,
    lat          double precision,
    lon          double precision,
    search       tsvector NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);

-- Plain listing: newest first, keyset on (created_at, id).
CREATE INDEX events_created_idx ON events (created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Every version of every event, never updated or deleted. `seq` orders writes for the
-- change feed; `txid` lets a reader hold back rows of transactions not yet committed.
CREATE TABLE event_revisions (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL REFERENCES events (id),
    version      integer NOT NULL,
    operation    text NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    body         json NOT NULL,
    recorded_at  timestamptz NOT NULL,
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (event_id, version)
);

CREATE INDEX event_revisions_recorded_idx ON event_revisions (recorded_at);
