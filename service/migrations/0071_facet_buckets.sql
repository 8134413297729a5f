-- Issue 20 item 1: facets from counts kept by writes. Counting the matching rows grew with
-- the table (p95 68.5 ms at 1M, 214.8 ms at 3M events); a facets request whose filters
-- these counts can answer sums a few hundred of them instead (SearchStore.facets says
-- which requests: type, certainty, date_basis, one country or one source kind, a window
-- of whole months).
--
-- What is kept. Each live event adds one to a set of *cells*, keyed by what the filters
-- and the facets read: type, certainty, date basis and the months its date span starts
-- and ends in (a window of whole months overlaps the span exactly when it overlaps those
-- months), and, for the month facet, its date precision. Each cell is in a *scope*:
-- '' (every event), 'country:XX' (the events naming that country) or 'source_kind:K'.
-- Within a scope an event has an 'event' cell (total, type, certainty, month) and a cell
-- per country and per source kind it names (those two facets). So `country=UA` is read
-- from scope 'country:UA' alone, and its country facet from the countries that occur with
-- UA, exactly. Keyed by the arrays themselves instead, 1M events of the benchmark make
-- ~680,000 buckets (9,293 distinct country arrays): summing them costs what counting rows
-- does (docs/scaling.md). Cells saturate: at 1M and at 3M events about the same number.
--
-- Who keeps them: statement-level triggers with transition tables (like 0080), so every
-- write path — single writes, bulk, imports, seeds, deletes, restores, actor merges — is
-- counted in its own transaction without a storage call to forget, and a bulk statement
-- of 1,000 events adds its deltas in one grouped INSERT.
--
-- Concurrency: writers never update a shared row. Each statement *appends* its grouped
-- deltas to facet_bucket_deltas (no unique key, nothing to wait for, no lost update, no
-- deadlock between writers whatever order they touch cells in); readers sum the folded
-- counts and the deltas in one statement (one snapshot). A fold moves the committed
-- deltas into facet_buckets, in one transaction, by one folder at a time (an advisory
-- lock tried, never waited for): whenever the deltas' identity passes a multiple of
-- FOLD_EVERY (facet_buckets_fold_every()), the writer whose statement passed it folds.
-- Direct `INSERT … ON CONFLICT DO UPDATE` increments were the alternative: exact too, but
-- every writer of the current month's attack/reported cell would queue on that row until
-- the writer before it commits, and two bulk transactions of several statements can
-- deadlock on cells taken in different orders.

CREATE TABLE facet_buckets (
    scope          text NOT NULL,  -- '', 'country:XX' or 'source_kind:K'
    type           text NOT NULL,
    last_month     date NOT NULL,  -- first day of the month the span ends in
    first_month    date NOT NULL,  -- first day of the month the span starts in
    certainty      text NOT NULL,
    date_basis     text NOT NULL,
    date_precision text NOT NULL,  -- '' on country and source_kind cells (unused there)
    facet          text NOT NULL,  -- 'event', 'country' or 'source_kind'
    value          text NOT NULL,  -- the country or kind; '' on event cells
    -- An integer: its sum is a bigint, summed much faster than a bigint's (a numeric).
    n              integer NOT NULL,
    -- A scope, its event cells apart from its country and kind cells (read apart), a
    -- type, then the window's end condition (last_month >= the window's start).
    PRIMARY KEY (scope, facet, type, last_month, first_month, certainty, date_basis,
                 date_precision, value)
-- Room on each page for a fold's new version of a cell beside the old one: a count that
-- changes is then a heap-only update, with no new entry in the key's index.
) WITH (fillfactor = 70);

-- Appended by the triggers, moved into facet_buckets by facet_buckets_fold().
CREATE TABLE facet_bucket_deltas (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    scope          text NOT NULL,
    type           text NOT NULL,
    last_month     date NOT NULL,
    first_month    date NOT NULL,
    certainty      text NOT NULL,
    date_basis     text NOT NULL,
    date_precision text NOT NULL,
    facet          text NOT NULL,
    value          text NOT NULL,
    n              integer NOT NULL
);

-- Deltas between folds: what a facets read sums besides the folded cells. (A function,
-- so a test can make folds frequent.)
CREATE FUNCTION facet_buckets_fold_every() RETURNS bigint
LANGUAGE sql STABLE AS 'SELECT 10000::bigint';

-- The first day of the month of a date (date_trunc would go through timestamptz).
CREATE FUNCTION facet_month(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT $1 - (extract(day FROM $1)::int - 1)
$$;

-- The cells one live event counts in. One definition for the triggers, the fill below
-- and the benchmark's loader (bench/load.py), so all three count alike.
CREATE FUNCTION facet_cells(
    type text, certainty text, countries text[], source_kinds text[],
    date_precision text, date_basis text, date_span daterange
) RETURNS TABLE (
    scope text, type text, last_month date, first_month date, certainty text,
    date_basis text, date_precision text, facet text, value text
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT s.scope, $1, facet_month(upper($7) - 1), facet_month(lower($7)), $2, $6,
           CASE f.facet WHEN 'event' THEN $5 ELSE '' END, f.facet, f.value
    FROM (SELECT '' AS scope
          UNION SELECT 'country:' || c FROM unnest($3) AS c
          UNION SELECT 'source_kind:' || k FROM unnest($4) AS k) AS s,
         -- As the counted facets do (SearchStore.facets): each array element once.
         (SELECT 'event' AS facet, '' AS value
          UNION ALL SELECT 'country', c FROM unnest($3) AS c
          UNION ALL SELECT 'source_kind', k FROM unnest($4) AS k) AS f
$$;

-- What a statement changed, one row per event counted (+1) or no longer counted (-1).
CREATE TYPE facet_change AS (
    type text, certainty text, countries text[], source_kinds text[],
    date_precision text, date_basis text, date_span daterange, sign int
);

-- Move every committed delta into facet_buckets; the number of cells changed, or NULL
-- when another transaction is folding (its fold takes them) or this one cannot (below).
CREATE FUNCTION facet_buckets_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    -- Under REPEATABLE READ the DELETE's snapshot could predate a fold committed since,
    -- and deleting its rows again fails the writer: such transactions leave it to others.
    IF current_setting('transaction_isolation') <> 'read committed'
       OR NOT pg_try_advisory_xact_lock(x'66616365747300'::bigint) THEN
        RETURN NULL;
    END IF;
    WITH taken AS (
        DELETE FROM facet_bucket_deltas
        RETURNING scope, type, last_month, first_month, certainty, date_basis,
                  date_precision, facet, value, n
    )
    INSERT INTO facet_buckets AS b
    SELECT scope, type, last_month, first_month, certainty, date_basis, date_precision,
           facet, value, sum(n)
    FROM taken
    GROUP BY scope, type, last_month, first_month, certainty, date_basis, date_precision,
             facet, value
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (scope, facet, type, last_month, first_month, certainty, date_basis,
                 date_precision, value)
    DO UPDATE SET n = b.n + EXCLUDED.n;
    GET DIAGNOSTICS folded = ROW_COUNT;
    RETURN folded;
END
$$;

-- Append the deltas of a statement's changes; fold when they pass a multiple of
-- facet_buckets_fold_every().
CREATE FUNCTION facet_buckets_add(changes facet_change[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first_id bigint;
    last_id bigint;
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
    WITH added AS (
        INSERT INTO facet_bucket_deltas (scope, type, last_month, first_month, certainty,
                                         date_basis, date_precision, facet, value, n)
        SELECT cell.*, sum(ch.sign)
        FROM unnest(changes) AS ch,
             facet_cells(ch.type, ch.certainty, ch.countries, ch.source_kinds,
                         ch.date_precision, ch.date_basis, ch.date_span) AS cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        HAVING sum(ch.sign) <> 0
        RETURNING id
    )
    SELECT min(id), max(id) INTO first_id, last_id FROM added;
    IF last_id / facet_buckets_fold_every() > (first_id - 1) / facet_buckets_fold_every() THEN
        PERFORM facet_buckets_fold();
    END IF;
END
$$;

CREATE FUNCTION facet_buckets_count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM facet_buckets_add(ARRAY(
            SELECT ROW(type, certainty, countries, source_kinds, date_precision, date_basis,
                       date_span, 1)::facet_change
            FROM new_rows WHERE deleted_at IS NULL));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM facet_buckets_add(ARRAY(
            SELECT ROW(type, certainty, countries, source_kinds, date_precision, date_basis,
                       date_span, -1)::facet_change
            FROM old_rows WHERE deleted_at IS NULL));
    ELSE
        -- Only rows whose counted columns or liveness changed: an update of the body
        -- alone (a new title, an actor merge's new actor ids) adds nothing.
        PERFORM facet_buckets_add(ARRAY(
            SELECT c FROM old_rows o JOIN new_rows n ON n.id = o.id,
                   LATERAL (
                       SELECT ROW(o.type, o.certainty, o.countries, o.source_kinds,
                                  o.date_precision, o.date_basis, o.date_span,
                                  -1)::facet_change AS c
                       WHERE o.deleted_at IS NULL
                       UNION ALL
                       SELECT ROW(n.type, n.certainty, n.countries, n.source_kinds,
                                  n.date_precision, n.date_basis, n.date_span,
                                  1)::facet_change
                       WHERE n.deleted_at IS NULL
                   ) AS changes
            WHERE (o.type, o.certainty, o.countries, o.source_kinds, o.date_precision,
                   o.date_basis, o.date_span, o.deleted_at IS NULL)
                  IS DISTINCT FROM
                  (n.type, n.certainty, n.countries, n.source_kinds, n.date_precision,
                   n.date_basis, n.date_span, n.deleted_at IS NULL)));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION facet_buckets_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE facet_buckets, facet_bucket_deltas;
    RETURN NULL;
END
$$;

-- A trigger with transition tables takes one event, so one each.
CREATE TRIGGER events_facets_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION facet_buckets_count_statement();
CREATE TRIGGER events_facets_updated AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION facet_buckets_count_statement();
CREATE TRIGGER events_facets_deleted AFTER DELETE ON events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION facet_buckets_count_statement();
CREATE TRIGGER events_facets_truncated AFTER TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION facet_buckets_truncate();

-- Every cell counted afresh from the live events, in one statement: for the events stored
-- before this migration, and for bench/load.py, which loads with triggers off.
CREATE FUNCTION facet_buckets_count_all() RETURNS void LANGUAGE sql AS $$
    TRUNCATE facet_buckets, facet_bucket_deltas;
    INSERT INTO facet_buckets
    SELECT cell.*, count(*)
    FROM events e,
         facet_cells(e.type, e.certainty, e.countries, e.source_kinds, e.date_precision,
                     e.date_basis, e.date_span) AS cell
    WHERE e.deleted_at IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
$$;

SELECT facet_buckets_count_all();
