-- The event_actors rows of one event, as a function: the trigger of 0002 inserts them row
-- by row for every write, and the benchmark's loader (bench/load.py) inserts them for a
-- whole batch in one statement with its trigger off (per-row trigger calls were about
-- half the cost of inserting an event there). One definition, so both store the same.
CREATE FUNCTION event_actor_rows(of_event uuid, event_body json)
RETURNS TABLE (event_id uuid, name_key text, name text, kind text, country text)
LANGUAGE sql STABLE AS $$
    -- An actor named twice in one event (two roles) counts once.
    SELECT DISTINCT ON (lower(actor->>'name'))
           $1, lower(actor->>'name'), actor->>'name', actor->>'kind', actor->>'country'
    FROM json_array_elements(coalesce($2->'actors', '[]'::json)) AS actor
    ORDER BY lower(actor->>'name')
$$;

CREATE OR REPLACE FUNCTION event_actors_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM event_actors WHERE event_id = NEW.id;
    END IF;
    IF NEW.deleted_at IS NULL THEN
        INSERT INTO event_actors (event_id, name_key, name, kind, country)
        SELECT * FROM event_actor_rows(NEW.id, NEW.body);
    END IF;
    RETURN NULL;
END
$$;
