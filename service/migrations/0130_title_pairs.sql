-- Relevance ranks the title matches of `q` first (0011). Finding them through
-- events_title_search_idx means intersecting the title posting lists of every word of the
-- query, and common words have long ones: for `drone attack Kharkiv` at 3,000,000 events
-- 'attack' is in 826,631 titles, 'drone' in 177,774, 'kharkiv' in 71,996, and the scan
-- decoded all 502 pages of them (12.8 ms) to find 3,737 titles holding all three.
--
-- This index keys each live event by the *pairs* of distinct words of its title (hashed):
-- a title holding every word of a query holds every pair of them, and pairs are rarer than
-- their words, so the same 3,737 are found from 109 pages in 2.0 ms. It only narrows: the
-- query still checks the title match itself on each candidate (a hash shared by two pairs
-- only lets a row through to that check), so what a search returns is unchanged.
-- Nothing new is stored in the row: the keys are computed from `search` on write.

-- The keys of every unordered pair of distinct lexemes (bytewise order, so one key a pair).
-- About 5 µs a title here, some 200 times an operator (cpu_operator_cost): so costed, the
-- planner looks the keys up in the index rather than computing them row by row. PARALLEL
-- RESTRICTED keeps a title group's scan in one process: a pair rarer than the statistics
-- keep is guessed at 0.5% of the rows (15,000 at 3M), and for `"Sergey Lavrov"` (294
-- titles) the planner then started workers, 24 ms instead of 1.
CREATE FUNCTION lexeme_pair_keys(lexemes text[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL RESTRICTED COST 200 AS $$
    SELECT coalesce(array_agg(DISTINCT hashtextextended(a || ' ' || b, 0)), '{}')
    FROM unnest(lexemes) AS a, unnest(lexemes) AS b
    WHERE a COLLATE "C" < b COLLATE "C"
$$;

-- The pair keys of a title: the lexemes of the A-weighted part of `search` (the title,
-- rows.search_vector_sql), as ts_filter(search, '{a}') of the title match has them.
-- SET search_path: an index expression is evaluated with search_path = pg_catalog on
-- PostgreSQL 17 and later (CREATE INDEX, VACUUM, REINDEX), where lexeme_pair_keys would
-- not be found (the embedded PostgreSQL 18 failed this migration without it).
CREATE FUNCTION title_pair_keys(search tsvector) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL RESTRICTED SET search_path FROM CURRENT AS $$
    SELECT lexeme_pair_keys(tsvector_to_array(ts_filter(search, '{a}')))
$$;

-- The pair keys every title matching `query` holds, when it has such: a query of AND and
-- phrase operators only (no OR, no NOT, no weights or prefixes) over two or more distinct
-- lexemes, each of which a match must contain. NULL for any other query. The lexemes are
-- read from the query's text, where each is quoted with ' and \ doubled.
CREATE FUNCTION tsquery_pair_keys(query tsquery) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN regexp_replace(query::text, '''(?:''''|[^''])*''', '', 'g') ~ '[|!:]' THEN NULL
        ELSE nullif(lexeme_pair_keys(ARRAY(
            SELECT regexp_replace(m[1], '([''\\])\1', '\1', 'g')
            FROM regexp_matches(query::text, '''((?:''''|[^''])*)''', 'g') AS m
        )), '{}')
    END
$$;

CREATE INDEX events_title_pairs_idx ON events USING gin (title_pair_keys(search))
    WHERE deleted_at IS NULL;
