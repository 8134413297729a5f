-- The CSV export's cells of each event's own fields (type to related), built at write time
-- by `csv_line.csv_fields` (issue 13): an export sends stored text instead of parsing and
-- flattening every body in Python (45 µs a row).
ALTER TABLE events ADD COLUMN csv_fields text;

-- Rows written before this migration get theirs from their stored body. These functions
-- are the SQL twin of `csv_line.field_cells` and `csv_fields` (Python's csv quoting: a cell
-- holding a comma, a quote or a line break is quoted, its quotes doubled). They are kept
-- after the migration so that tests/test_export.py can hold the two equal.
CREATE FUNCTION csv_cell(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN ''
                WHEN value ~ E'[,"\r\n]' THEN '"' || replace(value, '"', '""') || '"'
                ELSE value END
$$;

-- Lists come from the columns the service derived from the same event with the same
-- functions (actor_names, tags, publishers, source_kinds); the rest from the body. A
-- `json` body's `->` gives the nested value's text as written, which is what
-- `json.dumps` writes again for details and related.
CREATE FUNCTION event_csv_fields(e events) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT concat_ws(',',
        csv_cell(e.body->>'type'),
        csv_cell(e.body->>'key'),
        csv_cell(e.body->>'title'),
        csv_cell(e.body->>'summary'),
        csv_cell(e.body->>'date'),
        csv_cell(e.body->>'end_date'),
        csv_cell(coalesce(e.body->>'date_basis', 'on')),
        csv_cell(e.body->>'certainty'),
        csv_cell(e.body->'location'->>'name'),
        csv_cell(e.body->'location'->>'region'),
        csv_cell(e.body->'location'->>'country'),
        csv_cell(e.body->'location'->>'precision'),
        csv_cell(e.body->'location'->>'lat'),
        csv_cell(e.body->'location'->>'lon'),
        csv_cell(array_to_string(e.actor_names, '; ')),
        -- Each country once, in the order of the actors naming it.
        csv_cell((SELECT string_agg(country, '; ' ORDER BY first)
                  FROM (SELECT actor->>'country' AS country, min(n) AS first
                        FROM json_array_elements(coalesce(e.body->'actors', '[]'))
                             WITH ORDINALITY AS a(actor, n)
                        GROUP BY 1) AS countries
                  WHERE country <> '')),
        csv_cell(array_to_string(e.tags, '; ')),
        csv_cell(array_to_string(e.publishers, '; ')),
        csv_cell(array_to_string(e.source_kinds, '; ')),
        csv_cell((SELECT string_agg(source->>'url', '; ' ORDER BY n)
                  FROM json_array_elements(e.body->'sources') WITH ORDINALITY AS s(source, n)
                  WHERE source->>'url' <> '')),
        csv_cell(nullif(nullif(nullif((e.body->'details')::text, '{}'), 'null'), '')),
        csv_cell(nullif(nullif(nullif((e.body->'related')::text, '[]'), 'null'), ''))
    )
$$;

-- Naming neither body nor deleted_at, this fires no actors trigger.
UPDATE events e SET csv_fields = event_csv_fields(e);
ALTER TABLE events ALTER COLUMN csv_fields SET NOT NULL;
