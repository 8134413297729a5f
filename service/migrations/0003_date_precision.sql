-- How precise each event's date is (year, month or day), so month counts can tell an
-- event dated "2024" from one dated January 2024.
ALTER TABLE events ADD COLUMN date_precision text NOT NULL DEFAULT 'day'
    CHECK (date_precision IN ('year', 'month', 'day'));

-- Rows written before this migration: read it off the stored date.
UPDATE events SET date_precision = CASE length(body->>'date')
    WHEN 4 THEN 'year' WHEN 7 THEN 'month' ELSE 'day' END;
