"""All SQL of the actor registry: resolving events' actors on write, and the registry itself.

Resolution is one step over validated documents, before their SQL write, and every writer
takes it (EventStore.create/update, bulk ingest, the seed loader, imports): an actor that
gives ``actor_id`` must name a registry actor; one that gives identifiers (``identifiers``,
``wikidata``) resolves by them; otherwise by an exact alias within its kind, ignoring case
and accents (``actor_name_key`` in SQL); otherwise a new registry actor is made. Nothing is
guessed: fuzzy matches are only suggested (``ActorRegistry.page`` with ``text``).

Race-free: aliases are unique within a kind and identifiers unique across the registry
(primary keys), and a new actor claims them with INSERT … ON CONFLICT DO NOTHING inside a
savepoint. A writer that loses the race rolls its attempt back and resolves again, now
finding the winner's actor (READ COMMITTED: the next statement sees the committed row).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from schemas.common import SOURCE_ACTOR_KINDS

# Resolving a new actor takes at most two attempts: the one that lost a race, and the one
# that finds the winner's actor. A third guards against a winner that rolled back meanwhile.
RESOLVE_ATTEMPTS = 3


class UnknownActors(Exception):
    """Actors of one event that cannot resolve; ``errors`` maps ``actors.N.actor_id`` to
    messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class ActorNotFound(Exception):
    """No registry actor has that id."""


class ActorMoved(Exception):
    """The actor was merged into another; ``into`` is the survivor's id."""

    def __init__(self, into: uuid.UUID):
        super().__init__(into)
        self.into = into


class IdentifierTaken(Exception):
    """Identifiers or aliases another registry actor holds; ``errors`` names each field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


# A merge locks its duplicate's events, then the actors; it goes round again when events
# became the duplicate's in between (one writer's commit), so a few attempts do.
MERGE_ATTEMPTS = 5


class MergeRaced(Exception):
    """Events kept becoming the duplicate's while a merge locked them: nothing was merged;
    sending the merge again is safe."""


class _LostRace(Exception):
    """Another writer claimed an alias or identifier first: resolve again."""


@dataclass(frozen=True)
class _Wanted:
    """One actor as an event names it, with what resolution reads from it."""

    name: str
    kind: str
    country: str | None
    identifiers: tuple[tuple[str, str], ...]
    given_id: uuid.UUID | None = field(default=None)


def actor_identifier_pairs(actor: dict) -> tuple[tuple[str, str], ...]:
    """An event actor's identifiers as (scheme, value), ``wikidata`` counted as one."""
    pairs = [(i["scheme"], i["value"]) for i in actor.get("identifiers", ())]
    if "wikidata" in actor and ("wikidata", actor["wikidata"]) not in pairs:
        pairs.append(("wikidata", actor["wikidata"]))
    return tuple(sorted(pairs))


def _wanted(actor: dict) -> _Wanted:
    given = actor.get("actor_id")
    return _Wanted(
        actor["name"],
        actor["kind"],
        actor.get("country"),
        actor_identifier_pairs(actor),
        uuid.UUID(given) if given is not None else None,
    )


def _cited(name: str, source_kind: str | None, given: str | None) -> _Wanted | None:
    """A publisher or chain link as resolution reads it: under the actor kind its source
    kind names (``SOURCE_ACTOR_KINDS``); None when it has neither such a kind nor an id
    (a name alone says not which registry actor it is)."""
    kind = SOURCE_ACTOR_KINDS.get(source_kind)
    if kind is None and given is None:
        return None
    return _Wanted(name, kind, None, (), uuid.UUID(given) if given is not None else None)


def _references(event: dict):
    """Every registry reference of an event, as (field, wanted, set): ``field`` names its
    id's place (for errors), ``set(id)`` gives the event's part with that id. Actors, then
    each source's publisher and each object link of its chain (a plain-name link has no
    kind, so nothing to resolve)."""
    for n, actor in enumerate(event.get("actors", ())):
        yield f"actors.{n}.actor_id", _wanted(actor), ("actors", n, None, "actor_id")
    for n, source in enumerate(event.get("sources", ())):
        want = _cited(source["publisher"], source.get("kind"), source.get("publisher_actor_id"))
        if want is not None:
            yield (
                f"sources.{n}.publisher_actor_id",
                want,
                ("sources", n, None, "publisher_actor_id"),
            )
        for m, link in enumerate(source.get("attributed_to", ())):
            if isinstance(link, dict):
                want = _cited(link["name"], link.get("kind"), link.get("actor_id"))
                if want is not None:
                    field_name = f"sources.{n}.attributed_to.{m}.actor_id"
                    yield field_name, want, ("sources", n, m, "actor_id")


def _with_ids(event: dict, ids: dict[tuple, str]) -> dict:
    """The event with each id of ``ids`` (keyed by a reference's place) set."""
    if not ids:
        return event
    out = dict(event)
    for part in ("actors", "sources"):
        if part in out:
            out[part] = list(out[part])
    for (part, n, m, name), value in ids.items():
        item = dict(out[part][n])
        if m is None:
            item[name] = value
        else:
            chain = list(item["attributed_to"])
            chain[m] = chain[m] | {name: value}
            item["attributed_to"] = chain
        out[part][n] = item
    return out


def resolve_actors(
    conn: psycopg.Connection, events: Sequence[dict | None]
) -> tuple[list[dict | None], dict[int, dict[str, list[str]]]]:
    """Each event with every registry reference set: its actors' ``actor_id``, its
    sources' ``publisher_actor_id`` and their chain links' ``actor_id``; and the errors of
    those that cannot be.

    ``None`` items stay ``None``; an event with an error comes back ``None`` and its errors
    under its index. Runs inside the caller's transaction: new registry actors are written
    with the events, or not at all; the registry actors the events name are held (a key
    share) until it ends, so a merge cannot retire one of them meanwhile.
    """
    references = [list(_references(event)) if event else [] for event in events]
    resolved, refused = _resolve(conn, {want for refs in references for _, want, _ in refs})
    out: list[dict | None] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, event in enumerate(events):
        if not references[index]:
            out.append(event)
            continue
        bad = {
            field_name: [refused[want]]
            for field_name, want, _ in references[index]
            if want in refused
        }
        if bad:
            errors[index] = bad
            out.append(None)
        else:
            ids = {place: str(resolved[want]) for _, want, place in references[index]}
            out.append(_with_ids(event, ids))
    return out, errors


def resolve_event_actors(conn: psycopg.Connection, event: dict) -> dict:
    """One event's ``resolve_actors``: the event, or UnknownActors."""
    (resolved,), errors = resolve_actors(conn, [event])
    if errors:
        raise UnknownActors(errors[0])
    return resolved


def _resolve(
    conn: psycopg.Connection, wanted: set[_Wanted]
) -> tuple[dict[_Wanted, uuid.UUID], dict[_Wanted, str]]:
    """The registry id of each wanted actor, and why those that have none cannot have one."""
    resolved: dict[_Wanted, uuid.UUID] = {}
    refused: dict[_Wanted, str] = {}
    given = _given_ids(conn, {w.given_id for w in wanted if w.given_id is not None})
    by_identifier = _by_identifiers(conn, {p for w in wanted for p in w.identifiers})
    aliases = _aliases(conn, {(w.kind, w.name) for w in wanted})
    # New actors are made in one order, so two writers never wait on each other in a ring.
    order = sorted(wanted, key=lambda w: (w.kind or "", aliases[(w.kind, w.name)][0], w.name))
    for want in order:
        if want.given_id is not None:
            if want.given_id not in given:
                refused[want] = f"No registry actor has the id {want.given_id}."
            else:
                resolved[want] = given[want.given_id]
            continue
        owners = {by_identifier[p] for p in want.identifiers if p in by_identifier}
        if len(owners) > 1:
            refused[want] = (
                "Its identifiers belong to different registry actors: give `actor_id`, "
                "or merge those actors."
            )
            continue
        if owners:
            resolved[want] = owners.pop()
            continue
        key, owner = aliases[(want.kind, want.name)]
        if owner is not None and not _schemes_clash(conn, owner, want.identifiers):
            resolved[want] = owner
            continue
        resolved[want] = _make(conn, want, key)
    live = _hold(conn, set(resolved.values()))
    resolved = {want: live[actor_id] for want, actor_id in resolved.items()}
    _claim_spellings(
        conn,
        {w: i for w, i in resolved.items() if aliases[(w.kind, w.name)][1] is None},
        {(p, i) for w, i in resolved.items() for p in w.identifiers if p not in by_identifier},
    )
    return resolved, refused


def _hold(conn: psycopg.Connection, ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each id to the live actor it stands for, every such actor held by a key share until
    the transaction ends (in id order, as a merge locks its two).

    Resolution reads the registry without locks; a merge that committed meanwhile has
    retired an actor it read. The key share waits for a merge in progress (which holds its
    actors FOR UPDATE) and then reads its outcome, so an event never names a retired
    actor; and a merge that starts later waits for this write, then sees its events.
    """
    live: dict[uuid.UUID, uuid.UUID] = {}
    stands_for = {actor_id: actor_id for actor_id in ids}
    while stands_for:
        rows = conn.execute(
            "SELECT id, merged_into FROM actors WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            (sorted(set(stands_for.values())),),
        ).fetchall()
        merged = dict(rows)
        pending = {}
        for actor_id, current in stands_for.items():
            if merged[current] is None:
                live[actor_id] = current
            else:
                pending[actor_id] = merged[current]
        stands_for = pending
    return live


def _given_ids(conn: psycopg.Connection, ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each given id that names a registry actor, to the actor it stands for now (a merged
    actor's id stands for its survivor)."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, coalesce(merged_into, id) FROM actors WHERE id = ANY(%s)", (list(ids),)
    ).fetchall()
    return dict(rows)


def _rows_for_pairs(conn: psycopg.Connection, query: str, pairs: set[tuple[str, str]]) -> list:
    """``query``'s rows, its two parameters the pairs' first and second members as arrays."""
    if not pairs:
        return []
    firsts, seconds = zip(*pairs, strict=True)
    return conn.execute(query, (list(firsts), list(seconds))).fetchall()


def _by_identifiers(
    conn: psycopg.Connection, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], uuid.UUID]:
    rows = _rows_for_pairs(
        conn,
        "SELECT i.scheme, i.value, i.actor_id FROM actor_identifiers i"
        " JOIN unnest(%s::text[], %s::text[]) AS q(scheme, value)"
        " ON i.scheme = q.scheme AND i.value = q.value",
        pairs,
    )
    return {(scheme, value): actor_id for scheme, value, actor_id in rows}


def _aliases(
    conn: psycopg.Connection, names: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, uuid.UUID | None]]:
    """Each (kind, name): its alias key, and the actor holding that alias if any."""
    rows = _rows_for_pairs(
        conn,
        "SELECT q.kind, q.name, actor_name_key(q.name), a.actor_id"
        " FROM unnest(%s::text[], %s::text[]) AS q(kind, name)"
        " LEFT JOIN actor_aliases a"
        " ON a.kind = q.kind AND a.alias_key = actor_name_key(q.name)",
        names,
    )
    return {(kind, name): (key, actor_id) for kind, name, key, actor_id in rows}


def _schemes_clash(
    conn: psycopg.Connection, actor_id: uuid.UUID, pairs: tuple[tuple[str, str], ...]
) -> bool:
    """Whether the actor holds another value of a scheme these identifiers use: then the
    same name is another actor (two people called alike), not this one."""
    if not pairs:
        return False
    return bool(
        conn.execute(
            "SELECT EXISTS (SELECT FROM actor_identifiers i"
            " JOIN unnest(%s::text[], %s::text[]) AS q(scheme, value)"
            " ON i.scheme = q.scheme AND i.value <> q.value WHERE i.actor_id = %s)",
            ([p[0] for p in pairs], [p[1] for p in pairs], actor_id),
        ).fetchone()[0]
    )


def _make(conn: psycopg.Connection, want: _Wanted, key: str) -> uuid.UUID:
    """A new registry actor for ``want``, or the one a concurrent writer made first."""
    for _ in range(RESOLVE_ATTEMPTS):
        try:
            with conn.transaction():
                return _insert_actor(conn, want, key)
        except _LostRace:
            pass
        found = _by_identifiers(conn, set(want.identifiers))
        if found:
            return next(iter(found.values()))
        ((_, owner),) = _aliases(conn, {(want.kind, want.name)}).values()
        if owner is not None and not _schemes_clash(conn, owner, want.identifiers):
            return owner
    raise _LostRace(want)


def _insert_actor(conn: psycopg.Connection, want: _Wanted, key: str) -> uuid.UUID:
    actor_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO actors (id, name, kind, country) VALUES (%s, %s, %s, %s)",
        (actor_id, want.name, want.kind, want.country),
    )
    claimed = conn.execute(
        "INSERT INTO actor_aliases (kind, alias_key, alias, actor_id) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        (want.kind, key, want.name, actor_id),
    ).fetchone()
    if claimed is None and not want.identifiers:
        # Made meanwhile under this name: that actor is this one.
        raise _LostRace(want)
    # Without the alias (another actor's, of other identifiers) the identifiers tell it apart.
    for scheme, value in want.identifiers:
        if (
            conn.execute(
                "INSERT INTO actor_identifiers (scheme, value, actor_id) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING RETURNING 1",
                (scheme, value, actor_id),
            ).fetchone()
            is None
        ):
            raise _LostRace(want)
    return actor_id


def _claim_spellings(
    conn: psycopg.Connection,
    unclaimed: dict[_Wanted, uuid.UUID],
    identifiers_found: set[tuple[tuple[str, str], uuid.UUID]],
) -> None:
    """Record each spelling and identifier an event gave that no actor held when read, as
    its actor's (unless another writer claimed it since): the registry learns every name
    it has been written under."""
    aliases = [(w.kind, w.name, actor_id) for w, actor_id in unclaimed.items() if w.kind]
    identifiers = [(s, v, actor_id) for (s, v), actor_id in identifiers_found]
    _insert_rows(
        conn,
        "INSERT INTO actor_aliases (kind, alias_key, alias, actor_id)"
        " SELECT DISTINCT ON (kind, actor_name_key(name)) kind, actor_name_key(name), name, id"
        " FROM unnest(%s::text[], %s::text[], %s::uuid[]) AS q(kind, name, id)"
        " WHERE NOT EXISTS (SELECT FROM actor_aliases a"
        "   WHERE a.kind = q.kind AND a.alias_key = actor_name_key(q.name))"
        " ORDER BY kind, actor_name_key(name), name ON CONFLICT DO NOTHING",
        aliases,
    )
    _insert_rows(
        conn,
        "INSERT INTO actor_identifiers (scheme, value, actor_id)"
        " SELECT DISTINCT ON (scheme, value) scheme, value, id"
        " FROM unnest(%s::text[], %s::text[], %s::uuid[]) AS q(scheme, value, id)"
        " WHERE NOT EXISTS (SELECT FROM actor_identifiers i"
        "   WHERE i.scheme = q.scheme AND i.value = q.value)"
        " ORDER BY scheme, value ON CONFLICT DO NOTHING",
        identifiers,
    )


def _insert_rows(conn: psycopg.Connection, query: str, rows: list[tuple]) -> None:
    """``query`` with one array parameter per column of ``rows`` (in order: one lock
    order for every writer); nothing to do without rows."""
    if rows:
        conn.execute(query, [list(column) for column in zip(*sorted(rows), strict=True)])


_ACTOR_JSON = """
    SELECT json_build_object(
        'id', a.id, 'name', a.name, 'kind', a.kind, 'country', a.country,
        'aliases', ARRAY(SELECT alias FROM actor_aliases WHERE actor_id = a.id ORDER BY alias),
        'identifiers', coalesce((SELECT json_agg(json_build_object('scheme', scheme, 'value', value)
                                         ORDER BY scheme, value)
                                 FROM actor_identifiers WHERE actor_id = a.id), '[]'::json),
        'event_count', (SELECT count(*) FROM events
                        WHERE actor_ids @> ARRAY[a.id] AND deleted_at IS NULL),
        'source_event_count', (SELECT count(*) FROM events
                               WHERE source_actor_ids @> ARRAY[a.id] AND deleted_at IS NULL)
    )::text
    FROM actors a WHERE a.id = %s
"""


class ActorRegistry:
    """The registry's own reads and writes: one actor, a new one, a change, a merge.

    Works in the connection it is given (the caller owns the transaction).
    """

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def get(self, actor_id: uuid.UUID) -> str:
        """The actor as JSON text; ActorMoved for a merged one, ActorNotFound for none."""
        row = self.conn.execute(
            "SELECT merged_into FROM actors WHERE id = %s", (actor_id,)
        ).fetchone()
        if row is None:
            raise ActorNotFound(actor_id)
        if row[0] is not None:
            raise ActorMoved(row[0])
        return self.conn.execute(_ACTOR_JSON, (actor_id,)).fetchone()[0]

    def create(self, actor: dict) -> uuid.UUID:
        """A new registry actor from a validated body; IdentifierTaken if another holds
        one of its names (within the kind) or identifiers."""
        actor_id = uuid.uuid4()
        self.conn.execute(
            "INSERT INTO actors (id, name, kind, country) VALUES (%s, %s, %s, %s)",
            (actor_id, actor["name"], actor["kind"], actor.get("country")),
        )
        self._claim(
            actor_id,
            actor["kind"],
            actor["name"],
            actor.get("aliases", ()),
            actor.get("identifiers", ()),
        )
        return actor_id

    def change(self, actor_id: uuid.UUID, change: dict) -> None:
        """Apply a validated partial body: name, country, and aliases and identifiers added
        (a registry actor never loses a name events were resolved by)."""
        self.get(actor_id)
        kind = self.conn.execute(
            "SELECT kind FROM actors WHERE id = %s FOR UPDATE", (actor_id,)
        ).fetchone()[0]
        self.conn.execute(
            "UPDATE actors SET name = coalesce(%s, name), country = CASE WHEN %s THEN %s"
            " ELSE country END, updated_at = now() WHERE id = %s",
            (change.get("name"), "country" in change, change.get("country"), actor_id),
        )
        self._claim(
            actor_id,
            kind,
            change.get("name"),
            change.get("aliases", ()),
            change.get("identifiers", ()),
        )

    def _claim(
        self,
        actor_id: uuid.UUID,
        kind: str,
        name: str | None,
        aliases: Sequence[str],
        identifiers: Sequence[dict],
    ) -> None:
        """Give the actor these names (within its kind) and identifiers; IdentifierTaken
        naming each one another actor holds."""
        errors: dict[str, list[str]] = {}
        names = [("name", name)] if name is not None else []
        names += [(f"aliases.{n}", alias) for n, alias in enumerate(aliases)]
        for field_name, name in names:
            owner = self.conn.execute(
                "INSERT INTO actor_aliases (kind, alias_key, alias, actor_id)"
                " VALUES (%s, actor_name_key(%s), %s, %s) ON CONFLICT (kind, alias_key)"
                " DO UPDATE SET kind = EXCLUDED.kind RETURNING actor_id",
                (kind, name, name, actor_id),
            ).fetchone()[0]
            if owner != actor_id:
                errors[field_name] = [
                    f"{name!r} names registry actor {owner} already (merge them instead)."
                ]
        for n, identifier in enumerate(identifiers):
            owner = self.conn.execute(
                "INSERT INTO actor_identifiers (scheme, value, actor_id) VALUES (%s, %s, %s)"
                " ON CONFLICT (scheme, value) DO UPDATE SET scheme = EXCLUDED.scheme"
                " RETURNING actor_id",
                (identifier["scheme"], identifier["value"], actor_id),
            ).fetchone()[0]
            if owner != actor_id:
                errors[f"identifiers.{n}"] = [
                    f"{identifier['scheme']}:{identifier['value']} is registry actor {owner}'s."
                ]
        if errors:
            raise IdentifierTaken(errors)

    def merge(self, duplicate: uuid.UUID, survivor: uuid.UUID) -> list[uuid.UUID]:
        """Fold ``duplicate`` into ``survivor``: names and identifiers move, the
        duplicate's id answers for the survivor, and each live event of the duplicate is
        rewritten (a new version, so the change feed lists it). The ids of those events."""
        if duplicate == survivor:
            raise IdentifierTaken({"into": ["An actor cannot be merged into itself."]})
        for _ in range(MERGE_ATTEMPTS):
            try:
                # A savepoint: going round again releases what this attempt locked.
                with self.conn.transaction():
                    return self._merge(duplicate, survivor)
            except MergeRaced:
                pass
        raise MergeRaced(duplicate)

    def _merge(self, duplicate: uuid.UUID, survivor: uuid.UUID) -> list[uuid.UUID]:
        # events.LOCK_ORDER: the duplicate's events first (the caller rewrites them), then
        # the actors. An event that became the duplicate's between the two locks was not
        # locked first: the attempt is undone (its locks released) and made again.
        locked = self._events_of(duplicate, lock=True)
        for actor_id in sorted((duplicate, survivor)):
            self.get(actor_id)  # both live: ActorNotFound / ActorMoved otherwise
            self.conn.execute("SELECT FROM actors WHERE id = %s FOR UPDATE", (actor_id,))
        events = self._events_of(duplicate)
        if not set(events) <= set(locked):
            raise MergeRaced(duplicate)
        # An alias both hold within a kind cannot clash: aliases are unique per kind.
        self.conn.execute(
            "UPDATE actor_aliases SET actor_id = %s WHERE actor_id = %s", (survivor, duplicate)
        )
        self.conn.execute(
            "UPDATE actor_identifiers SET actor_id = %s WHERE actor_id = %s",
            (survivor, duplicate),
        )
        self.conn.execute(
            "UPDATE actors SET merged_into = %s, updated_at = now()"
            " WHERE id = %s OR merged_into = %s",
            (survivor, duplicate, duplicate),
        )
        return events

    def _events_of(self, actor_id: uuid.UUID, lock: bool = False) -> list[uuid.UUID]:
        """The live events naming the actor (as an actor, a publisher or a chain link), in
        id order; locked so with ``lock``."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT id FROM events WHERE (actor_ids @> ARRAY[%(id)s::uuid]"
                " OR source_actor_ids @> ARRAY[%(id)s::uuid]) AND deleted_at IS NULL"
                " ORDER BY id" + (" FOR UPDATE" if lock else ""),
                {"id": actor_id},
            )
        ]
