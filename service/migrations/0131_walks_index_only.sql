-- The walks of near= by date and by creation (SearchStore._walk) were meant to read no
-- table page (0070), but PostgreSQL plans an index-only scan only when every column the
-- query names is in the index, and lower(date_span) names date_span, which
-- events_start_idx did not hold: each of the ~1,100 rows a page walks at 3,000,000 events
-- was looked up in the table, one random page each (SQL p50 1.0 ms with the table cached,
-- 2.4-2.7 ms once it no longer all fitted the page cache). Holding date_span (+18 bytes a
-- row: 53 -> 71 MB per 1M events), the walk is an index-only scan: 1.41 -> 0.86 ms at 1M
-- with everything cached. events_created_idx gets lon and lat for the same reason
-- (near=&sort=-created walks it).
DROP INDEX events_start_idx;
CREATE INDEX events_start_idx ON events (lower(date_span), id) INCLUDE (lon, lat, date_span)
    WHERE deleted_at IS NULL;
DROP INDEX events_created_idx;
CREATE INDEX events_created_idx ON events (created_at DESC, id DESC) INCLUDE (lon, lat)
    WHERE deleted_at IS NULL;
