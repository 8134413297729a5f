"""Whole request and response examples for the spec, taken from the seed records.

The docs page pre-fills "Try it out" with these, so every operation works with its
defaults against a server that loaded the seeds (`flask --app service serve` does), and
no write's defaults break another operation's:
- a create sends a seed record of the chosen kind without its `key` (a key would make a
  second try a 409) and without its links (they name other seeded events), and so does
  each item of a bulk write;
- a read or revisions names the seeded meeting by its id, which is the same on every
  installation (an event with a key has an id derived from it); no default writes it;
- a replace or patch names the sandbox event to change (seeds/sandbox.yaml), and a
  replace sends it as its seed record holds it; a delete names the other sandbox event,
  which nothing else names. `flask --app service seed` restores both.

Built from the project's own seed files, so a kind added to the seeds gets its example; a
kind the article has no event of takes its example from ``example_events.yaml``.
"""

from __future__ import annotations

import functools
import uuid
from pathlib import Path

from service.seeding import (
    SANDBOX_KEYS,
    SANDBOX_TO_CHANGE,
    SANDBOX_TO_DELETE,
    read_seed_file,
    seed_files,
)
from service.storage.events import KEYED_EVENT_IDS

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
# Examples of the kinds no seed record has (the seeds hold only the article's events).
OTHER_KINDS_FILE = Path(__file__).with_name("example_events.yaml")
# The event that reads, writes and responses show: the article's central meeting.
EXAMPLE_KEY = "2025-07-12-lavrov-meets-kim-jong-un"
# When the examples claim the seeds were loaded; any fixed moment would do.
SEEDED_AT = "2025-07-13T12:00:00.000000Z"
_NOT_SENT_ON_CREATE = ("key", "related")


@functools.cache
def seed_records() -> tuple[dict, ...]:
    """The project's seed records, validated; none where the seeds are not installed."""
    if not SEEDS_DIR.is_dir():
        return ()
    return tuple(event for path in seed_files([SEEDS_DIR]) for event in read_seed_file(path))


def event_id(key: str) -> str:
    """The id a seeded event gets (see ``service.storage.events.new_event_ids``)."""
    return str(uuid.uuid5(KEYED_EVENT_IDS, key))


def _seed_record(key: str) -> dict | None:
    return next((record for record in seed_records() if record["key"] == key), None)


def _example_record() -> dict | None:
    return _seed_record(EXAMPLE_KEY)


def _as_stored(record: dict) -> dict:
    """A seed record as a read answers it once loaded: the service's fields around it."""
    return {
        "id": event_id(record["key"]),
        "type": record["type"],
        **{name: value for name, value in record.items() if name != "type"},
        "version": 1,
        "created_at": SEEDED_AT,
        "updated_at": SEEDED_AT,
    }


def create_examples() -> dict[str, dict]:
    """One request example per kind of event in the seeds, named by the kind."""
    first_of_kind: dict[str, dict] = {}
    article = [record for record in seed_records() if record["key"] not in SANDBOX_KEYS]
    seeded = {record["key"] for record in article}
    # The example event first: "Try it out" starts from the first example.
    for record in sorted(article, key=lambda record: record["key"] != EXAMPLE_KEY):
        first_of_kind.setdefault(record["type"], record)
    for record in read_seed_file(OTHER_KINDS_FILE):
        first_of_kind.setdefault(record["type"], record)
    return {
        kind: {
            "summary": f"A {kind.replace('_', ' ')} "
            + ("(from the seed data)" if record["key"] in seeded else "(illustrative)"),
            "value": {
                name: value for name, value in record.items() if name not in _NOT_SENT_ON_CREATE
            },
        }
        for kind, record in first_of_kind.items()
    }


def bulk_example() -> dict:
    """A batch of two create examples: keyless, so each try creates them again.

    Without one, the docs page would make up a batch from the schema, whose `key` example
    names the seeded meeting: a batch that updates by key could overwrite it.
    """
    values = [example["value"] for example in create_examples().values()][:2]
    return {"two": {"summary": "Two events (without keys: created on every try)", "value": values}}


def replace_example() -> dict:
    """The sandbox event to change as a read answers it, less the fields the service sets.

    A replace may send them back (they are ignored when they are the stored ones), but the
    schema marks them read-only, so an example of a request leaves them out.
    """
    record = _seed_record(SANDBOX_TO_CHANGE)
    if record is None:
        return {}
    return {
        "sandbox": {
            "summary": "The sandbox event as seeded (its key included)",
            "value": record,
        }
    }


def patch_example() -> dict:
    """A merge patch of the sandbox event to change: one member changed."""
    record = _seed_record(SANDBOX_TO_CHANGE)
    if record is None:
        return {}
    return {
        "tags": {
            "summary": "Add a tag (a list is replaced whole)",
            "value": {"tags": [*record.get("tags", []), "reviewed"]},
        }
    }


def stored_example() -> dict | None:
    """The example event as a read answers it."""
    record = _example_record()
    return None if record is None else _as_stored(record)


def example_event_id() -> str | None:
    """The example event's id, for the `event_id` path parameter of reads."""
    return None if _example_record() is None else event_id(EXAMPLE_KEY)


def event_to_change_id() -> str | None:
    """The `event_id` replace and patch default to: the sandbox event to change."""
    return None if _seed_record(SANDBOX_TO_CHANGE) is None else event_id(SANDBOX_TO_CHANGE)


def event_to_delete_id() -> str | None:
    """The `event_id` delete defaults to: the sandbox event to delete."""
    return None if _seed_record(SANDBOX_TO_DELETE) is None else event_id(SANDBOX_TO_DELETE)
