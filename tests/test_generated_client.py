"""A Python client generated from openapi.yaml, used against real gunicorn as an integrator
would: a change to the contract that breaks generated clients fails here.

openapi-python-client (pinned in the dev extra) generates the client into a temporary
folder at the start of the module; nothing generated is committed. The TypeScript types
integrators generate (openapi-typescript, pinned with typescript in tests/typescript/)
are made the same way. Code that reads a hedged figure through each is type-checked
(`mypy --strict`, `tsc --strict`): a rule across fields that a generator reads as
"anything" (`Any`, `unknown`) fails here.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from conftest import TEST_KEYS
from examples import example

from schemas import EVENT_KINDS

OPENAPI_YAML = Path(__file__).parent.parent / "openapi.yaml"
PACKAGE = "events_client"
TYPESCRIPT = Path(__file__).parent / "typescript"  # package.json and lock: the pinned tools

# Reads the lower bound of a deployment's personnel through the generated models.
READS_PERSONNEL_PY = f"""
from {PACKAGE}.models import DeploymentEvent
from {PACKAGE}.types import Unset


def personnel_min(event: DeploymentEvent) -> float | None:
    personnel = event.details.personnel
    if isinstance(personnel, Unset) or isinstance(personnel.min_, Unset):
        return None
    return personnel.min_
"""
READS_PERSONNEL_TS = """
import type { components } from "./events";

type DeploymentEvent = components["schemas"]["DeploymentEvent"];

export function personnelMin(event: DeploymentEvent): number | undefined {
  return event.details.personnel?.min;
}
"""
# The same read, used as text: only a checker that knows the figure's type refuses it.
MISREADS_PERSONNEL_PY = READS_PERSONNEL_PY.replace(
    "return personnel.min_", "return personnel.min_.upper()"
)
MISREADS_PERSONNEL_TS = READS_PERSONNEL_TS.replace(
    "personnel?.min;", "personnel?.min?.toUpperCase();"
)


@pytest.fixture(scope="module")
def generation(tmp_path_factory) -> tuple[Path, str]:
    """The client generated once for the module: its folder, and what the generator said."""
    folder = tmp_path_factory.mktemp("generated")
    config = folder / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the code is only imported
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(OPENAPI_YAML),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return folder, output


@pytest.fixture(scope="module")
def generated(generation):
    """The generated package, imported."""
    folder, _ = generation
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def api(generated, live_gunicorn, app):  # app: the store emptied before the test
    """A generated client with the writer key, against real gunicorn."""
    client = generated.AuthenticatedClient(
        base_url=live_gunicorn.base, token=TEST_KEYS["test-writer"][1][1]
    )
    with client:
        yield client


def _module(generated, name: str):
    return importlib.import_module(f"{generated.__name__}.{name}")


def test_generating_the_client_warns_of_nothing_but_ndjson_bodies(generation):
    _, output = generation
    warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
    # The bulk endpoint's NDJSON body is a string the generator does not type; its JSON
    # array form is typed. The import takes only a CSV file (text/csv), which the
    # generator knows no model for, so it leaves that endpoint out: an upload of a file
    # is a plain HTTP POST (or the import command). Anything else (a duplicate model, an
    # unparsed schema) is a bug.
    assert warnings == [
        "WARNING parsing POST /v1/events/bulk within bulk.",
        "WARNING parsing POST /v1/imports within imports. Endpoint will not be generated.",
    ], output


def test_create_read_replace_and_delete_through_the_generated_client(generated, api):
    events = _module(generated, "api.events")
    models = _module(generated, "models")
    create = importlib.import_module(f"{events.__name__}.create_event")
    get = importlib.import_module(f"{events.__name__}.get_event")
    replace = importlib.import_module(f"{events.__name__}.replace_event")
    delete = importlib.import_module(f"{events.__name__}.delete_event")

    created = create.sync_detailed(client=api, body=models.MeetingEvent.from_dict(example()))
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.MeetingEvent)
    event_id = created.parsed.id
    assert isinstance(event_id, UUID)

    read = get.sync(event_id, client=api)
    assert isinstance(read, models.MeetingEvent) and read.title == example()["title"]

    # What was read, sent back with a change: the read-only fields go along.
    read.title = "Replaced by a generated client"
    replaced = replace.sync_detailed(event_id, client=api, body=read, if_match='"v1"')
    assert replaced.status_code == 200, (replaced.content, read.to_dict())
    assert replaced.parsed.version == 2 and replaced.parsed.title == read.title

    assert delete.sync_detailed(event_id, client=api).status_code == 204
    gone = get.sync_detailed(event_id, client=api)
    assert gone.status_code == 410
    assert isinstance(gone.parsed, models.Problem) and gone.parsed.status == 410


def test_patch_through_the_generated_client_is_a_merge_patch(generated, api):
    models = _module(generated, "models")
    create = importlib.import_module(f"{generated.__name__}.api.events.create_event")
    patch = importlib.import_module(f"{generated.__name__}.api.events.patch_event")
    event_id = create.sync(client=api, body=models.MeetingEvent.from_dict(example(tags=["one"]))).id
    # The spec offers the patch as merge-patch only, so that is what the client sends.
    kwargs = patch._get_kwargs(event_id, body=models.EventPatch.from_dict({"tags": ["two"]}))
    assert kwargs["headers"]["Content-Type"] == "application/merge-patch+json"
    patched = patch.sync_detailed(
        event_id, client=api, body=models.EventPatch.from_dict({"tags": ["two"]})
    )
    assert patched.status_code == 200, patched.content
    assert patched.parsed.tags == ["two"] and patched.parsed.version == 2


def test_search_pages_by_cursor_through_the_generated_client(generated, api):
    models = _module(generated, "models")
    create = importlib.import_module(f"{generated.__name__}.api.events.create_event")
    search = importlib.import_module(f"{generated.__name__}.api.events.list_events")
    for day in range(1, 6):
        create.sync(
            client=api,
            body=models.MeetingEvent.from_dict(example(title=f"Day {day}", date=f"2025-07-0{day}")),
        )
    titles, cursor = [], None
    while True:
        page = search.sync(
            client=api,
            limit=2,
            sort=models.ListEventsSort.DATE_DESC,
            **({"cursor": cursor} if cursor else {}),
        )
        assert isinstance(page, models.EventPage), page
        titles += [item.title for item in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert titles == [f"Day {day}" for day in range(5, 0, -1)]


def test_export_in_each_format_through_the_generated_client(generated, api):
    models = _module(generated, "models")
    create = importlib.import_module(f"{generated.__name__}.api.events.create_event")
    export = importlib.import_module(f"{generated.__name__}.api.export.export_events")
    create.sync(client=api, body=models.MeetingEvent.from_dict(example(title="Exported")))
    formats = models.ExportEventsFormat
    ndjson = export.sync(client=api, format_=formats.NDJSON)
    assert [json.loads(line)["title"] for line in ndjson.splitlines()] == ["Exported"]
    rows = list(csv.DictReader(io.StringIO(export.sync(client=api, format_=formats.CSV))))
    assert [row["title"] for row in rows] == ["Exported"]
    geojson = json.loads(export.sync(client=api, format_=formats.GEOJSON))
    assert [f["properties"]["title"] for f in geojson["features"]] == ["Exported"]


def test_an_invalid_event_comes_back_as_a_typed_problem(generated, api):
    models = _module(generated, "models")
    create = importlib.import_module(f"{generated.__name__}.api.events.create_event")
    invalid = example(date="2025-02-30")  # the client checks no calendar
    response = create.sync_detailed(client=api, body=models.MeetingEvent.from_dict(invalid))
    assert response.status_code == 422
    assert isinstance(response.parsed, models.Problem)
    assert response.parsed.errors.to_dict()


def _type_check(folder: Path, file_name: str, source: str, checker: list[str]):
    """Write ``source`` into ``folder`` as ``file_name`` and run ``checker`` on it there."""
    (folder / file_name).write_text(source)
    return subprocess.run(
        [*checker, file_name], cwd=folder, capture_output=True, text=True, timeout=300
    )


def _mypy(folder: Path, source: str) -> subprocess.CompletedProcess:
    # Only the file is checked: the generated code is the generator's.
    strict = ["--strict", "--follow-imports=silent", "--no-incremental"]
    return _type_check(
        folder, "reads_personnel.py", source, [sys.executable, "-m", "mypy", *strict]
    )


def test_the_python_client_types_a_deployments_personnel_under_mypy_strict(generation):
    folder, _ = generation
    checked = _mypy(folder, READS_PERSONNEL_PY)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    misread = _mypy(folder, MISREADS_PERSONNEL_PY)
    assert misread.returncode == 1 and '"float" has no attribute "upper"' in misread.stdout


@pytest.fixture(scope="module")
def typescript_types(tmp_path_factory) -> Path:
    """A folder holding openapi-typescript's types of openapi.yaml (``events.d.ts``)."""
    if shutil.which("npm") is None:
        pytest.skip("the TypeScript check needs node and npm (apt-get install -y npm)")
    bins = TYPESCRIPT / "node_modules" / ".bin"
    if not (bins / "tsc").exists() or not (bins / "openapi-typescript").exists():
        installed = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TYPESCRIPT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert installed.returncode == 0, installed.stderr
    folder = tmp_path_factory.mktemp("typescript")
    generated = subprocess.run(
        [str(bins / "openapi-typescript"), str(OPENAPI_YAML), "-o", str(folder / "events.d.ts")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return folder


def _tsc(folder: Path, source: str) -> subprocess.CompletedProcess:
    tsc = str(TYPESCRIPT / "node_modules" / ".bin" / "tsc")
    options = ["--strict", "--noEmit", "--target", "es2022", "--module", "es2022"]
    options += ["--moduleResolution", "bundler"]
    return _type_check(folder, "reads_personnel.ts", source, [tsc, *options])


def test_the_typescript_types_type_a_deployments_personnel_under_tsc_strict(typescript_types):
    checked = _tsc(typescript_types, READS_PERSONNEL_TS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    misread = _tsc(typescript_types, MISREADS_PERSONNEL_TS)
    assert misread.returncode != 0
    assert "Property 'toUpperCase' does not exist on type 'number'" in misread.stdout


def test_every_figure_and_details_is_a_model_not_any(generated, typescript_types):
    # Quantity, every kind's details and the casualty figures: models in Python, object
    # types in TypeScript (the "at least one of" rules live under `not`, which both skip).
    models = _module(generated, "models")
    names = ["Quantity", "Casualties", "PartyCasualties"] + [
        f"{''.join(part.title() for part in kind.split('_'))}Details" for kind in EVENT_KINDS
    ]
    for name in names:
        assert isinstance(getattr(models, name), type), name
    # The annotation is a string (the models refer to each other under TYPE_CHECKING).
    assert str(models.DeploymentDetails.__annotations__["personnel"]) == "Quantity | Unset"
    declared = (typescript_types / "events.d.ts").read_text()
    for name in names:
        assert f"        {name}: {{\n" in declared, name
