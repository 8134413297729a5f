-- Search: the indexes behind GET /v1/events, its facets and export, and the actors list.
-- Every index is partial on live rows: deleted events are never searched.

-- Lower-cased actor names, filled by the service (`_search_columns`), for actor=…
-- (rows written before this migration are filled at its end).
ALTER TABLE events ADD COLUMN actor_keys text[] NOT NULL DEFAULT '{}';

-- Full text over the stored, weighted tsvector (never computed per row at query time).
CREATE INDEX events_search_idx ON events USING gin (search) WHERE deleted_at IS NULL;

-- Date windows: overlap (&&) with the event's span. btree_gist lets the type share the
-- index, so "type + date window" is one index scan.
CREATE INDEX events_span_type_idx ON events USING gist (date_span, type)
    WHERE deleted_at IS NULL;

-- Keyset orders: sort=date/-date (start of the span, ties by id). created_at/-created_at
-- use events_created_idx from 0001, which serves both directions.
CREATE INDEX events_start_idx ON events (lower(date_span), id) WHERE deleted_at IS NULL;

-- Equality filters.
CREATE INDEX events_type_idx ON events (type) WHERE deleted_at IS NULL;
CREATE INDEX events_certainty_idx ON events (certainty) WHERE deleted_at IS NULL;
CREATE INDEX events_place_idx ON events (lower(place)) WHERE deleted_at IS NULL;
-- Array membership (&&): any of the given values among the event's.
CREATE INDEX events_countries_idx ON events USING gin (countries) WHERE deleted_at IS NULL;
CREATE INDEX events_actor_keys_idx ON events USING gin (actor_keys) WHERE deleted_at IS NULL;
CREATE INDEX events_tags_idx ON events USING gin (tags) WHERE deleted_at IS NULL;
CREATE INDEX events_publishers_idx ON events USING gin (publishers) WHERE deleted_at IS NULL;

-- bbox: points in a box.
CREATE INDEX events_point_idx ON events USING gist (point(lon, lat)) WHERE deleted_at IS NULL;

-- One row per (live event, actor), for GET /v1/actors: kind and country come from the
-- event body, so a trigger keeps this table in step with every write — whoever writes.
-- Deleting an event (setting deleted_at) removes its rows, so its actors stop counting.
CREATE TABLE event_actors (
    event_id  uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name_key  text NOT NULL,
    name      text NOT NULL,
    kind      text NOT NULL,
    country   text,
    PRIMARY KEY (event_id, name_key)
);
-- Listing in name order (keyset on name_key), grouped without a sort.
CREATE INDEX event_actors_name_idx ON event_actors (name_key) INCLUDE (name, kind, country);
-- Case-insensitive substring and typo-tolerant (word similarity) name search.
CREATE INDEX event_actors_trgm_idx ON event_actors USING gin (name_key gin_trgm_ops);

CREATE FUNCTION event_actors_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM event_actors WHERE event_id = NEW.id;
    END IF;
    IF NEW.deleted_at IS NULL THEN
        -- An actor named twice in one event (two roles) counts once.
        INSERT INTO event_actors (event_id, name_key, name, kind, country)
        SELECT DISTINCT ON (lower(actor->>'name'))
               NEW.id, lower(actor->>'name'), actor->>'name', actor->>'kind', actor->>'country'
        FROM json_array_elements(coalesce(NEW.body->'actors', '[]'::json)) AS actor
        ORDER BY lower(actor->>'name');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_actors_refresh
    AFTER INSERT OR UPDATE OF body, deleted_at ON events
    FOR EACH ROW EXECUTE FUNCTION event_actors_refresh();

-- Fill both for rows written before this migration; naming deleted_at fires the trigger.
UPDATE events SET deleted_at = deleted_at,
                  actor_keys = (SELECT coalesce(array_agg(lower(name)), '{}')
                                FROM unnest(actor_names) AS name);
