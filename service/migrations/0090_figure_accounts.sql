-- Issue 21, item 5: several accounts of one figure. A Quantity may carry `accounts`; the
-- event's total killed (details.killed, or details.casualties.killed) gets two search
-- columns and three CSV cells.
--
-- killed_best: the figure's reading (its value, else its lower bound; `figure_reading`);
-- killed_any: the greatest reading of the figure and of its accounts (`killed_readings`).
-- `killed_min=` searches one or the other (`figures=best|any`).
ALTER TABLE events ADD COLUMN killed_best float8, ADD COLUMN killed_any float8;

-- The CSV cells of a figure: the least low end and the greatest high end of it and its
-- accounts (empty where one is unbounded on that side: an upper bound alone has no low
-- end), and how many accounts it has; three empty cells without a figure. The SQL twin of
-- `csv_line.killed_cells` (`schemas.widest_range`): numbers keep the text their JSON has,
-- which is what Python's csv module writes for them; of equal ends, the first (the
-- figure's, then each account's in order) is written, as Python's min and max pick.
CREATE FUNCTION figure_csv_cells(figure json) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN figure IS NULL THEN ',,' ELSE (
        SELECT concat_ws(',',
            CASE WHEN bool_or(low IS NULL) THEN ''
                 ELSE (array_agg(low ORDER BY low::float8, n))[1] END,
            CASE WHEN bool_or(high IS NULL) THEN ''
                 ELSE (array_agg(high ORDER BY high::float8 DESC, n))[1] END,
            (count(*) - 1)::text)
        FROM (SELECT coalesce(f->>'min', f->>'value') AS low,
                     coalesce(f->>'max', f->>'value') AS high, n
              FROM (SELECT figure AS f, 0::bigint AS n
                    UNION ALL
                    SELECT a, n FROM json_array_elements(coalesce(figure->'accounts', '[]'))
                                     WITH ORDINALITY AS accounts(a, n)) AS figures) AS ends
    ) END
$$;

CREATE FUNCTION event_killed_figure(body json) RETURNS json LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(body->'details'->'killed', body->'details'->'casualties'->'killed')
$$;

-- 0012's cells (type to related) under a name of their own, then the three cells after
-- `related`. tests/test_export.py holds the stored column equal to this function.
ALTER FUNCTION event_csv_fields(events) RENAME TO event_own_csv_fields;

CREATE FUNCTION event_csv_fields(e events) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT event_own_csv_fields(e) || ',' || figure_csv_cells(event_killed_figure(e.body))
$$;

-- No stored event has accounts yet: killed_any is killed_best. Naming neither body nor
-- deleted_at, this refreshes no event_actors rows (0080's triggers).
UPDATE events e SET csv_fields = event_csv_fields(e),
    killed_best = (coalesce(event_killed_figure(e.body)->>'value',
                            event_killed_figure(e.body)->>'min'))::float8,
    killed_any = (coalesce(event_killed_figure(e.body)->>'value',
                           event_killed_figure(e.body)->>'min'))::float8;

-- killed_min= alone, or beside other filters: only events with a figure are indexed.
CREATE INDEX events_killed_best_idx ON events (killed_best) WHERE killed_best IS NOT NULL;
CREATE INDEX events_killed_any_idx ON events (killed_any) WHERE killed_any IS NOT NULL;
