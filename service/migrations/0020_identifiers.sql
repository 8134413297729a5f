-- Issue 18: an event's identifiers in other datasets (`ucdp-ged`, `acled` …), as
-- `scheme:value` texts, for `identifier=` search. Derived at write time like the other
-- search columns (rows.search_columns); events written before have none.
ALTER TABLE events ADD COLUMN identifiers text[] NOT NULL DEFAULT '{}';

UPDATE events SET identifiers = ARRAY(
    SELECT (i->>'scheme') || ':' || (i->>'value')
    FROM json_array_elements(body->'identifiers') AS i
) WHERE json_typeof(body->'identifiers') = 'array';

CREATE INDEX events_identifiers_idx ON events USING gin (identifiers) WHERE deleted_at IS NULL;
