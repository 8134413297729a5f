-- Issue 20 (ingest speed): event_actors kept in step by statement, not by row. The row
-- trigger of 0002 ran its function once per written event: for a batch of 1,000 from bulk
-- ingest or an import, 1,000 plpgsql calls, each with its own DELETE and INSERT. These
-- triggers see a statement's rows as a table (a transition table) and refresh them in one
-- DELETE and one INSERT, through the same event_actor_rows as before, so they store what
-- the row trigger stored. A single-event write is a statement of one row: the same work.

CREATE FUNCTION event_actors_refresh_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- As the row trigger's `UPDATE OF body, deleted_at`: only rows whose body or
        -- deletion changed (a column list cannot be given with transition tables).
        DELETE FROM event_actors a USING new_rows n JOIN old_rows o ON o.id = n.id
        WHERE a.event_id = n.id
          AND (o.body::text IS DISTINCT FROM n.body::text
               OR o.deleted_at IS DISTINCT FROM n.deleted_at);
        INSERT INTO event_actors (event_id, name_key, name, kind, country)
        SELECT r.* FROM new_rows n JOIN old_rows o ON o.id = n.id,
               event_actor_rows(n.id, n.body) AS r
        WHERE n.deleted_at IS NULL
          AND (o.body::text IS DISTINCT FROM n.body::text
               OR o.deleted_at IS DISTINCT FROM n.deleted_at);
    ELSE
        INSERT INTO event_actors (event_id, name_key, name, kind, country)
        SELECT r.* FROM new_rows n, event_actor_rows(n.id, n.body) AS r
        WHERE n.deleted_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER events_actors_refresh ON events;

CREATE TRIGGER events_actors_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_actors_refresh_statement();

CREATE TRIGGER events_actors_updated AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_actors_refresh_statement();
