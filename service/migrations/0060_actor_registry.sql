-- Issue 21: the actor registry. An actor has a stable id; the names it goes by (aliases)
-- and its identifiers in other datasets point at it. Events keep each actor's name as
-- written and gain the registry `actor_id` (resolution: service/storage/actor_registry.py).

-- How names are matched: ignoring case and accents (NFD, combining marks dropped). One
-- definition in SQL, so the service, this migration and any loader key names alike.
CREATE FUNCTION actor_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(normalize($1, NFD), '[\u0300-\u036f]', '', 'g'))
$$;

CREATE TABLE actors (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL,
    country     text,
    -- A merged actor keeps its row so its id answers 308 to the survivor.
    merged_into uuid REFERENCES actors (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actors_name_trgm_idx ON actors USING gin (actor_name_key(name) gin_trgm_ops)
    WHERE merged_into IS NULL;

-- One alias names one actor within a kind: the unique key is what makes resolution by
-- name race-free (INSERT … ON CONFLICT, service/storage/actor_registry.py).
CREATE TABLE actor_aliases (
    kind      text NOT NULL,
    alias_key text NOT NULL,
    alias     text NOT NULL,
    actor_id  uuid NOT NULL REFERENCES actors (id),
    PRIMARY KEY (kind, alias_key)
);
CREATE INDEX actor_aliases_actor_idx ON actor_aliases (actor_id);
CREATE INDEX actor_aliases_trgm_idx ON actor_aliases USING gin (alias_key gin_trgm_ops);

-- Each identifier is unique across the registry.
CREATE TABLE actor_identifiers (
    scheme   text NOT NULL,
    value    text NOT NULL,
    actor_id uuid NOT NULL REFERENCES actors (id),
    PRIMARY KEY (scheme, value)
);
CREATE INDEX actor_identifiers_actor_idx ON actor_identifiers (actor_id);

-- The registry ids an event's actors resolve to, for actor_id= search.
ALTER TABLE events ADD COLUMN actor_ids uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX events_actor_ids_idx ON events USING gin (actor_ids) WHERE deleted_at IS NULL;

-- What this migration merged: each registry actor built from stored events, with every
-- spelling that went into it (more than one: a merge of spellings).
CREATE TABLE actor_registry_migration (
    actor_id uuid PRIMARY KEY REFERENCES actors (id),
    kind     text NOT NULL,
    names    text[] NOT NULL
);

-- The registry from the stored actors: same kind + same normalised name → one actor; its
-- name the most frequent spelling, its country the most frequent one.
WITH seen AS (
    SELECT actor->>'kind' AS kind, actor->>'name' AS name, actor->>'country' AS country
    FROM events e, json_array_elements(coalesce(e.body->'actors', '[]'::json)) AS actor
    WHERE e.deleted_at IS NULL
), grouped AS (
    SELECT kind, actor_name_key(name) AS name_key,
           mode() WITHIN GROUP (ORDER BY name) AS name,
           mode() WITHIN GROUP (ORDER BY country) AS country,
           array_agg(DISTINCT name ORDER BY name) AS names
    FROM seen GROUP BY kind, actor_name_key(name)
), made AS (
    INSERT INTO actors (id, name, kind, country)
    SELECT gen_random_uuid(), name, kind, country FROM grouped
    RETURNING id, kind, name
)
INSERT INTO actor_registry_migration (actor_id, kind, names)
SELECT made.id, made.kind, grouped.names
FROM made JOIN grouped ON grouped.kind = made.kind AND grouped.name_key = actor_name_key(made.name);

INSERT INTO actor_aliases (kind, alias_key, alias, actor_id)
SELECT DISTINCT ON (m.kind, actor_name_key(n)) m.kind, actor_name_key(n), n, m.actor_id
FROM actor_registry_migration m, unnest(m.names) AS n
ORDER BY m.kind, actor_name_key(n), n;

-- Identifiers the stored actors carry (wikidata included) go to their actor; one that two
-- registry actors carry stays with the first (the other is a merge for an admin to make).
INSERT INTO actor_identifiers (scheme, value, actor_id)
SELECT DISTINCT ON (scheme, value) scheme, value, actor_id FROM (
    SELECT i->>'scheme' AS scheme, i->>'value' AS value, a.actor_id
    FROM events e, json_array_elements(coalesce(e.body->'actors', '[]'::json)) AS actor
    JOIN actor_aliases a ON a.kind = actor->>'kind' AND a.alias_key = actor_name_key(actor->>'name'),
    json_array_elements(coalesce(actor->'identifiers', '[]'::json)) AS i
    WHERE e.deleted_at IS NULL
    UNION ALL
    SELECT 'wikidata', actor->>'wikidata', a.actor_id
    FROM events e, json_array_elements(coalesce(e.body->'actors', '[]'::json)) AS actor
    JOIN actor_aliases a ON a.kind = actor->>'kind' AND a.alias_key = actor_name_key(actor->>'name')
    WHERE e.deleted_at IS NULL AND actor->>'wikidata' IS NOT NULL
) AS found ORDER BY scheme, value, actor_id;

-- Stored events answer actor_id= search from now on; their bodies gain `actor_id` at their
-- next write (rewriting them here would change served versions without a revision).
UPDATE events e SET actor_ids = ARRAY(
    SELECT DISTINCT a.actor_id
    FROM json_array_elements(coalesce(e.body->'actors', '[]'::json)) AS actor
    JOIN actor_aliases a ON a.kind = actor->>'kind' AND a.alias_key = actor_name_key(actor->>'name')
) WHERE e.deleted_at IS NULL AND json_array_length(coalesce(e.body->'actors', '[]'::json)) > 0;
