-- Push delivery (issue 19): webhook subscriptions, each following the change feed with a
-- cursor of its own, the deliveries made to it, and the JetStream publisher's cursor.
--
-- Nothing is added to the write path: the change feed (event_revisions in (txid, seq)
-- order) already is the ordered log of what must be delivered. A subscription's
-- position is where it stands in that log; a backfill is a subscription that starts
-- from an older position.

CREATE TABLE subscriptions (
    id                 uuid PRIMARY KEY,
    url                text NOT NULL,
    -- The search parameters that choose its changes, as validated (search_args.FilterArgs).
    filter             jsonb NOT NULL DEFAULT '{}',
    description        text,
    -- The signing secret (whsec_...). Kept as it is, not hashed: the deliverer needs it
    -- to sign every delivery. After a rotation the previous one signs too, until
    -- previous_secret_expires_at.
    secret             text NOT NULL,
    previous_secret    text,
    previous_secret_expires_at timestamptz,
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason    text,
    -- Since when every attempt has failed (NULL: the last one succeeded); after
    -- WEBHOOKS_DISABLE_AFTER_DAYS of that, the subscription is disabled.
    failing_since      timestamptz,
    -- The change feed position up to which every change has been delivered or queued.
    position_txid      xid8 NOT NULL,
    position_seq       bigint NOT NULL,
    -- The API key that made it: a `subscribe` key sees and changes its own only.
    owner_key_id       integer REFERENCES api_keys (id),
    created_by         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_owner_idx ON subscriptions (owner_key_id, created_at, id);

-- One row per change handed to a subscription: delivered, waiting for a (re)try, or
-- failed (the subscription was disabled before it went through).
CREATE TABLE deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    change_txid      xid8 NOT NULL,
    change_seq       bigint NOT NULL,
    event_id         uuid NOT NULL,
    version          integer NOT NULL,
    operation        text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (subscription_id, change_seq)
);
-- The deliverer's queue: per subscription and event, the oldest pending change first.
CREATE INDEX deliveries_pending_idx ON deliveries (subscription_id, event_id, change_txid, change_seq)
    WHERE status <> 'delivered';
-- The listing: newest first.
CREATE INDEX deliveries_listing_idx ON deliveries (subscription_id, id DESC);

-- Where a publisher (the JetStream one) stands in the change feed.
CREATE TABLE stream_positions (
    name           text PRIMARY KEY,
    position_txid  xid8 NOT NULL,
    position_seq   bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
