"""The seed data and the `seed` command, against the real database and the HTTP API."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from schemas import Event
from service.seeding import read_seed_file, seed_files
from service.storage import event_store

REPOSITORY = Path(__file__).resolve().parent.parent
SEEDS = REPOSITORY / "seeds"
SEED_FILES = seed_files([SEEDS])
ARTICLE_SEED = SEEDS / "2025-07-13-ani-lavrov-visits-north-korea.yaml"
SEEDED_COUNT = 18
PLANNED_DEPLOYMENT = "2025-07-north-korea-prepares-25000-30000-more-troops"


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch):
    """``flask seed`` without a path reads SEEDS_DIR (``seeds``) of the working directory."""
    monkeypatch.chdir(REPOSITORY)


def _raw_records():
    for path in SEED_FILES:
        for index, record in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            yield pytest.param(record, id=record.get("key", f"{path.name}[{index}]"))


def _seed(app, *paths):
    """Run ``flask seed`` with ``paths`` (none: the default seeds/ folder)."""
    return app.test_cli_runner().invoke(args=["seed", *map(str, paths)])


def _events_by_key(client) -> dict[str, dict]:
    """Every listed event, through the HTTP API, by natural key."""
    response = client.get("/v1/events?limit=100")
    assert response.status_code == 200
    assert response.json["next_cursor"] is None
    return {event["key"]: event for event in response.json["items"]}


def _write_variant(tmp_path, change) -> Path:
    """A copy of the article's seed file with ``change(records)`` applied; its path."""
    records = yaml.safe_load(ARTICLE_SEED.read_text(encoding="utf-8"))
    change(records)
    path = tmp_path / ARTICLE_SEED.name
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def _record(records: list[dict], key: str) -> dict:
    return next(record for record in records if record["key"] == key)


@pytest.mark.parametrize("record", list(_raw_records()))
def test_seed_record_validates(record):
    Event().load(record)


def test_seed_files_hold_every_event_of_the_article_once():
    events = [event for path in SEED_FILES for event in read_seed_file(path)]
    keys = [event["key"] for event in events]
    assert len(keys) == len(set(keys)) == SEEDED_COUNT
    assert Counter(event["type"] for event in events) == {
        "visit": 2, "meeting": 3, "statement": 2, "publication": 1, "deployment": 2,
        "combat": 1, "casualties": 1, "arms_transfer": 2, "military_cooperation": 1,
        "logistics_movement": 1, "attack": 2,
    }
    linked = {link["event"] for event in events for link in event.get("related", [])}
    assert linked <= set(keys)


def test_seed_creates_every_event(app, client):
    result = _seed(app)
    assert result.exit_code == 0, result.output
    assert f"created {SEEDED_COUNT}, updated 0, unchanged 0" in result.output
    assert len(_events_by_key(client)) == SEEDED_COUNT


def test_seed_twice_changes_nothing(app, client):
    assert _seed(app).exit_code == 0
    before = _events_by_key(client)
    result = _seed(app)
    assert result.exit_code == 0, result.output
    assert f"created 0, updated 0, unchanged {SEEDED_COUNT}" in result.output
    assert _events_by_key(client) == before
    assert {event["version"] for event in before.values()} == {1}


def test_seed_updates_a_changed_record_with_a_revision(app, client, tmp_path):
    assert _seed(app).exit_code == 0
    key = "2025-07-10-russian-drone-attack-on-kyiv-from-all-directions"
    original_title = _events_by_key(client)[key]["title"]
    changed = _write_variant(tmp_path, lambda records: _record(records, key).update(
        title="Russian drones strike Kyiv from every side"))

    result = _seed(app, changed)

    assert result.exit_code == 0, result.output
    assert f"created 0, updated 1, unchanged {SEEDED_COUNT - 1}" in result.output
    event = _events_by_key(client)[key]
    assert (event["version"], event["title"]) == (2, "Russian drones strike Kyiv from every side")
    revisions = client.get(f"/v1/events/{event['id']}/revisions").json["items"]
    assert [revision["title"] for revision in revisions] == [
        original_title, "Russian drones strike Kyiv from every side"]


def test_seed_leaves_a_deleted_event_deleted(app, client):
    assert _seed(app).exit_code == 0
    deleted = _events_by_key(client)[PLANNED_DEPLOYMENT]
    with app.app_context():
        event_store().delete(uuid.UUID(deleted["id"]))

    result = _seed(app)

    assert result.exit_code == 0, result.output
    assert (f"created 0, updated 0, unchanged {SEEDED_COUNT - 1}, left deleted 1"
            in result.output)
    assert client.get(f"/v1/events/{deleted['id']}").status_code == 410


def test_seed_refuses_invalid_yaml_and_loads_nothing(app, client, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("- key: 2025-07-12-x\n  title: [unclosed\n", encoding="utf-8")

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert f"{broken}: not valid YAML at line" in result.output
    assert _events_by_key(client) == {}


def test_seed_refuses_a_file_with_an_invalid_record_and_loads_nothing_from_it(
        app, client, tmp_path):
    broken = _write_variant(tmp_path, lambda records: _record(records, PLANNED_DEPLOYMENT)[
        "details"]["personnel"].update(min=40000))

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert (f"{broken}: record 9 (key '{PLANNED_DEPLOYMENT}'): details.personnel.min: "
            "Must not be greater than max.") in result.output
    assert _events_by_key(client) == {}


def test_seed_names_every_bad_record_by_index_and_field(app, tmp_path):
    def break_records(records):
        records[0]["date"] = "2025-02-30"
        del records[3]["key"]
        records[5]["key"] = records[4]["key"]
        records.append(["not", "an", "event"])

    result = _seed(app, _write_variant(tmp_path, break_records))

    assert result.exit_code != 0
    assert ("record 0 (key '2025-07-11-lavrov-visits-north-korea'): date: "
            "Not a real calendar date.") in result.output
    assert "record 3: key: Required in a seed" in result.output
    assert ("record 5 (key '2025-07-12-lavrov-says-north-korea-backs-war-aims'): key: "
            "Duplicate of record 4.") in result.output
    assert f"record {SEEDED_COUNT}: _body: An event must be a JSON object." in result.output


def test_seed_rolls_back_a_file_whose_link_names_no_event(app, client, tmp_path):
    broken = _write_variant(tmp_path, lambda records: records[-1]["related"].__setitem__(
        0, {"event": "2025-07-08-no-such-event", "relation": "follows"}))

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert (f"record {SEEDED_COUNT - 1} (key '2025-07-10-russian-drone-attack-on-kyiv-from-all-"
            "directions'): related.0.event: No event has the id or key '2025-07-08-no-such-event'"
            in result.output)
    assert _events_by_key(client) == {}


def test_seed_loads_good_files_and_refuses_only_the_bad_one(app, client, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {type: meeting, key: a-meeting}\n", encoding="utf-8")

    result = _seed(app, ARTICLE_SEED, broken)

    assert result.exit_code != 0
    assert f"{ARTICLE_SEED}: created {SEEDED_COUNT}" in result.output
    assert f"{broken}: record 0 (key 'a-meeting'): title: " in result.output
    assert len(_events_by_key(client)) == SEEDED_COUNT


def test_seed_refuses_a_key_that_two_files_of_one_run_hold(app, client, tmp_path):
    copy = _write_variant(tmp_path, lambda records: None)

    result = _seed(app, ARTICLE_SEED, copy)

    assert result.exit_code != 0
    assert (f"{copy}: record 0 (key '2025-07-11-lavrov-visits-north-korea'): key: Also in "
            f"{ARTICLE_SEED}.") in result.output
    assert len(_events_by_key(client)) == SEEDED_COUNT


def test_seeded_facts_read_back_through_the_api(app, client):
    assert _seed(app).exit_code == 0
    events = _events_by_key(client)

    # "on Saturday", against a Sunday 13 July 2025 dateline
    meeting = events["2025-07-12-lavrov-meets-kim-jong-un"]
    assert meeting["date"] == "2025-07-12"
    assert meeting["location"] == {"name": "Wonsan", "region": "Kangwon Province",
                                   "country": "KP", "lat": 39.1528, "lon": 127.4436}
    assert meeting["related"] == [{"event": "2025-07-11-lavrov-visits-north-korea",
                                   "relation": "part_of"}]
    # "on Wednesday"; "a record 728 drones"
    strike = events["2025-07-09-russia-launches-record-728-drones-and-13-missiles"]
    assert strike["date"] == "2025-07-09"
    assert strike["details"]["weapons"][0]["quantity"] == {
        "value": 728, "unit": "drones", "note": "a record"}
    # "25,000 to 30,000", citing Ukrainian intelligence, via CNN, via ANI
    planned = events[PLANNED_DEPLOYMENT]
    assert planned["details"]["personnel"] == {"min": 25000, "max": 30000, "unit": "soldiers"}
    assert planned["certainty"] == "planned"
    assert planned["sources"] == [{"publisher": "ANI", "published": "2025-07-13",
                                   "attributed_to": ["CNN", "Ukrainian intelligence"]}]
    # "at least 100 ballistic missiles", from a report of 11 UN member states
    missiles = events["2024-north-korea-sends-ballistic-missiles-to-russia"]
    assert missiles["date"] == "2024"
    assert missiles["details"]["items"][0]["quantity"] == {"min": 100,
                                                           "unit": "ballistic missiles"}
    assert missiles["sources"][0]["attributed_to"] == ["CNN", "report of 11 UN member states"]
    # "around 4,000 ... killed or wounded", an estimate
    casualties = events["2024-north-korean-casualties-estimated-at-4000"]
    assert casualties["certainty"] == "estimated"
    assert casualties["details"]["killed_or_wounded"] == {
        "value": 4000, "approximate": True, "unit": "soldiers"}
    # the words said, relayed by TASS
    statement = events["2025-07-12-lavrov-says-north-korea-backs-war-aims"]
    assert statement["sources"][0]["attributed_to"] == ["TASS"]
    assert statement["details"]["quote"].startswith("We exchanged views on the situation")


def test_readme_table_lists_every_seeded_event():
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Seed data", 1)[1].split("\n## ", 1)[0]
    rows = {(cells[0], cells[2]) for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| kind")
            for cells in [[cell.strip() for cell in line.strip("|").split("|")]]}
    seeded = {(record["type"], record["title"]) for path in SEED_FILES
              for record in yaml.safe_load(path.read_text(encoding="utf-8"))}
    assert rows == seeded
