-- killed_max= beside killed_min= (issue 21, item 5's figure filters): `figures=best` reads
-- killed_best; `figures=any` reads the least reading of the figure and its accounts
-- (killed_fewest: "some source says at most that many"), and with both bounds one reading
-- within them (killed_readings, every reading, the figure's first). `rows.killed_readings`
-- is the Python twin (tests/test_accounts.py holds the stored columns equal to it).
ALTER TABLE events ADD COLUMN killed_fewest float8, ADD COLUMN killed_readings float8[];

-- Only events with a reading (killed_any is set exactly then). Naming neither body nor a
-- counted column, this refreshes no event_actors rows and no facet counts.
UPDATE events e SET (killed_fewest, killed_readings) = (
    SELECT min(reading), array_agg(reading ORDER BY n)
    FROM (SELECT coalesce(f->>'value', f->>'min')::float8 AS reading, n
          FROM (SELECT event_killed_figure(e.body) AS f, 0::bigint AS n
                UNION ALL
                SELECT a, n
                FROM json_array_elements(coalesce(event_killed_figure(e.body)->'accounts', '[]'))
                     WITH ORDINALITY AS accounts(a, n)) AS figures) AS readings
    WHERE reading IS NOT NULL)
WHERE e.killed_any IS NOT NULL;

CREATE INDEX events_killed_fewest_idx ON events (killed_fewest) WHERE killed_fewest IS NOT NULL;
