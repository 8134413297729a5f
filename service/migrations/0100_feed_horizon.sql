-- The change feed's horizon, per database. The feed serves only revisions of transactions
-- older than every transaction that may still commit (service/storage/changes.py). It was
-- pg_snapshot_xmin(pg_current_snapshot()): the oldest transaction running anywhere on the
-- server. Transaction ids are counted server-wide, so a long transaction in another
-- database of the same server (a report, a migration, another service's batch) held this
-- database's feed back for as long as it ran, and no webhook or feed reader saw a change
-- meanwhile; on a shared test server it made the feed tests fail whenever another
-- database was busy.
--
-- A transaction of another database can never write this database's revisions, so the
-- horizon is now the oldest running transaction that is not known to be another
-- database's. Only one whose backend is seen connected to another database is left out;
-- every other (this database's, a prepared transaction with no backend, one whose lock
-- is not visible yet) is kept, so the horizon is never later than it may be. A backend stays in its database for life,
-- so a transaction seen running in another database there is one of that database's.
-- With none running here, it is the snapshot's xmax: every transaction below it ended.
-- On a hot standby the primary's transactions hold no locks there: all are kept, as
-- before.
-- PL/pgSQL, so each session plans its query once (a SQL function with this body was
-- planned at every call: 1.5 ms instead of 0.5). STABLE: it reads the caller's snapshot.
CREATE FUNCTION feed_horizon() RETURNS xid8 LANGUAGE plpgsql STABLE AS $$
DECLARE
    snapshot pg_snapshot := pg_current_snapshot();
    horizon xid8;
BEGIN
    IF pg_snapshot_xmin(snapshot) = pg_snapshot_xmax(snapshot) THEN
        RETURN pg_snapshot_xmax(snapshot);  -- nothing running anywhere
    END IF;
    SELECT min(running) INTO horizon
    FROM pg_snapshot_xip(snapshot) AS running
    WHERE running::xid NOT IN (
        -- Each transaction holds an exclusive lock on its own id while it runs.
        SELECT l.transactionid
        FROM pg_locks AS l JOIN pg_stat_get_activity(NULL) AS a ON a.pid = l.pid
        WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
          AND l.transactionid IS NOT NULL
          AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
    );
    RETURN coalesce(horizon, pg_snapshot_xmax(snapshot));
END
$$;
