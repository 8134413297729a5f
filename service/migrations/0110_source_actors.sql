-- Issue 21, item 7: publishers and attribution-chain links are registry actors too. A
-- source's `publisher` gains `publisher_actor_id`, each `{name, kind}` link `actor_id`,
-- resolved on write as event actors are (service/storage/actor_registry.py), under the
-- actor kind the source kind names (source_actor_kind below; schemas.SOURCE_ACTOR_KINDS
-- is its twin, tests/test_source_actors.py holds them equal).

CREATE FUNCTION source_actor_kind(source_kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE $1
        WHEN 'news_agency' THEN 'media'
        WHEN 'newspaper' THEN 'media'
        WHEN 'broadcaster' THEN 'media'
        WHEN 'state_media' THEN 'media'
        WHEN 'government' THEN 'government_body'
        WHEN 'military' THEN 'armed_force'
        WHEN 'intelligence_service' THEN 'intelligence_service'
        WHEN 'international_organization' THEN 'international_organization'
        WHEN 'ngo' THEN 'organization'
    END
$$;

-- The registry actors an event's sources cite, for source_actor_id= search and a
-- registry actor's source_event_count. A constant default: no table rewrite.
ALTER TABLE events ADD COLUMN source_actor_ids uuid[] NOT NULL DEFAULT '{}';

-- Every publisher and object link of the stored live events whose kind names an actor
-- kind (a plain-name link has none), once per event and name.
CREATE TEMPORARY TABLE cited ON COMMIT DROP AS
SELECT DISTINCT e.id AS event_id, source_actor_kind(r.kind) AS kind, r.name,
       actor_name_key(r.name) AS name_key
FROM events e,
     json_array_elements(e.body->'sources') AS s,
     LATERAL (
         SELECT s->>'publisher' AS name, s->>'kind' AS kind
         UNION ALL
         SELECT l->>'name', l->>'kind'
         FROM json_array_elements(coalesce(s->'attributed_to', '[]'::json)) AS l
         WHERE json_typeof(l) = 'object'
     ) AS r
WHERE e.deleted_at IS NULL AND source_actor_kind(r.kind) IS NOT NULL;

-- A name no registry actor holds within its kind makes one (as 0060: the same kind and
-- normalised name are one actor, its name the most frequent spelling); what it gathered
-- is kept in actor_registry_migration beside 0060's rows.
WITH grouped AS (
    SELECT kind, name_key, mode() WITHIN GROUP (ORDER BY name) AS name,
           array_agg(DISTINCT name ORDER BY name) AS names
    FROM cited c
    WHERE NOT EXISTS (SELECT FROM actor_aliases a
                      WHERE a.kind = c.kind AND a.alias_key = c.name_key)
    GROUP BY kind, name_key
), made AS (
    INSERT INTO actors (id, name, kind)
    SELECT gen_random_uuid(), name, kind FROM grouped
    RETURNING id, kind, name
)
INSERT INTO actor_registry_migration (actor_id, kind, names)
SELECT made.id, made.kind, grouped.names
FROM made JOIN grouped ON grouped.kind = made.kind AND grouped.name_key = actor_name_key(made.name);

INSERT INTO actor_aliases (kind, alias_key, alias, actor_id)
SELECT DISTINCT ON (m.kind, actor_name_key(n)) m.kind, actor_name_key(n), n, m.actor_id
FROM actor_registry_migration m, unnest(m.names) AS n
ORDER BY m.kind, actor_name_key(n), n
ON CONFLICT DO NOTHING;

-- Stored events answer source_actor_id= from now on. Their bodies gain the ids at their
-- next write, as 0060 left `actor_id` (rewriting them here would change served versions
-- without a revision); revisions are untouched and keep validating (the ids are
-- optional). Only the events that cite a resolvable source are updated, and the update
-- names neither body nor a counted column, so the triggers of 0071 and 0080 add nothing.
UPDATE events e SET source_actor_ids = found.ids
FROM (
    SELECT c.event_id, array_agg(DISTINCT a.actor_id ORDER BY a.actor_id) AS ids
    FROM cited c JOIN actor_aliases a ON a.kind = c.kind AND a.alias_key = c.name_key
    GROUP BY c.event_id
) AS found
WHERE e.id = found.event_id;

CREATE INDEX events_source_actor_ids_idx ON events USING gin (source_actor_ids)
    WHERE deleted_at IS NULL;

DROP TABLE cited;
