-- Relevance ranks the events whose title matches the query first (issue 13). Ranking
-- reads each candidate's stored `search` vector from the table: over every match of a
-- broad query (~23,600 rows at 1M events, ~24,500 table pages) that cost 139 ms, and a
-- narrow side table of (id, search) still read ~19,800 pages (its vectors average 440
-- bytes). The title matches of the same query are ~1,300 rows. This index finds them:
-- the title is the A-weighted part of `search` (`search_vector_sql`), so no new column
-- and nothing to keep in step on writes; as-of reads rebuild `search` and get it too.
CREATE INDEX events_title_search_idx ON events USING gin (ts_filter(search, '{a}'))
    WHERE deleted_at IS NULL;

-- Facets count the type, certainty, countries, source kinds and date of every match.
-- The date-window index now carries them, so the filtered facets are an index-only scan:
-- at 1M events, type=attack&country=UA and three months read 1,888 index pages instead
-- of 8,547 table pages for its ~8,700 candidates. Filtered pages use it as before.
DROP INDEX events_span_type_idx;
CREATE INDEX events_span_type_idx ON events USING gist (date_span, type)
    INCLUDE (countries, certainty, source_kinds, date_precision, date_basis)
    WHERE deleted_at IS NULL;
