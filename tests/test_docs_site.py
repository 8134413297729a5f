"""The docs site and the README that leads into it: the site builds strictly (no broken
link, missing page, missing heading or page left out of the nav), every link the README
makes into docs/ lands on a page and heading of the built site, and the data model page
shows every kind with a record as the seeds hold it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from schemas import EVENT_KINDS, Event
from service.seeding import seed_files

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"
# [text](target): the README's Markdown links, images included
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _build(site: Path, root: Path = REPOSITORY) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    built = _build(site)
    assert built.returncode == 0, built.stderr
    return site


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id" and value)


def _ids(page: Path) -> set[str]:
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.ids


def _built_page(site: Path, source: str) -> Path:
    """Where MkDocs writes docs/<source> (directory URLs: a.md -> a/index.html)."""
    if source == "index.md":
        return site / "index.html"
    if source.endswith(".md"):
        return site / source.removesuffix(".md") / "index.html"
    return site / source


def test_docs_site_builds_strictly(site):
    assert (site / "index.html").is_file()
    assert (site / "data-model" / "index.html").is_file()


class _Loads(HTMLParser):
    """What a page loads (scripts, styles, images), not what it merely links to."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("rel") == "stylesheet" and attrs.get("href"):
            self.loads.append(attrs["href"])


def test_no_page_of_the_site_loads_anything_from_another_host(site):
    remote = []
    for page in site.rglob("*.html"):
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        remote += [(page.name, url) for url in parser.loads if re.match(r"(https?:)?//", url)]
    assert remote == []


def test_every_readme_link_into_docs_resolves(site):
    links = [
        target
        for target in LINK.findall(README.read_text(encoding="utf-8"))
        if target.startswith("docs/")
    ]
    assert links, "the README links into docs/"
    for target in links:
        path, _, anchor = target.removeprefix("docs/").partition("#")
        assert (REPOSITORY / "docs" / path).is_file(), f"README links to missing docs/{path}"
        built = _built_page(site, path)
        assert built.is_file(), f"docs/{path} is not in the built site"
        if anchor:
            assert anchor in _ids(built), f"README links to #{anchor}, not a heading of docs/{path}"


def test_readme_is_a_front_door_of_at_most_200_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_readme_test_command_is_the_one_ci_runs():
    readme = README.read_text(encoding="utf-8")
    test_section = readme.split("## Test it", 1)[1].split("\n## ", 1)[0]
    command = re.search(r"```sh\n(.*?)\n```", test_section, re.S).group(1)
    assert (
        command
        == "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    )
    assert command in (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")


def test_the_site_and_the_openapi_page_point_at_each_other(site, client):
    assert "http://localhost:8000/docs" in (site / "index.html").read_text(encoding="utf-8")
    description = client.get("/openapi.json").get_json()["info"]["description"]
    assert "`docs/` folder" in description and "mkdocs serve" in description


def test_a_broken_link_fails_the_build(tmp_path):
    """The strict build is what catches drift: a link to a missing heading fails it."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPOSITORY / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(REPOSITORY / "docs", copy / "docs")
    index = copy / "docs" / "index.md"
    index.write_text(
        index.read_text(encoding="utf-8") + "\n[gone](search.md#no-such-heading)\n",
        encoding="utf-8",
    )
    built = _build(tmp_path / "site", root=copy)
    assert built.returncode != 0
    assert "no-such-heading" in built.stderr


# --- The data model page: every kind, each example as the seeds store it ---------------

KIND_EXAMPLE = re.compile(r"^### `([a-z_]+)`\n(.*?)```json\n(.*?)\n```", re.S | re.M)


def _kind_examples() -> dict[str, dict]:
    page = (REPOSITORY / "docs" / "data-model.md").read_text(encoding="utf-8")
    section = page.split("\n## The kinds\n", 1)[1].split("\n## ", 1)[0]
    return {kind: json.loads(example) for kind, _, example in KIND_EXAMPLE.findall(section)}


def test_data_model_page_has_an_example_of_every_kind():
    assert list(_kind_examples()) == list(EVENT_KINDS)


def test_data_model_page_examples_are_the_seeded_records():
    seeded = {
        record["key"]: record
        for path in seed_files([REPOSITORY / "seeds"])
        for record in yaml.safe_load(path.read_text(encoding="utf-8"))
    }
    examples = [example for example in _kind_examples().values() if "key" in example]
    assert len(examples) >= len({record["type"] for record in seeded.values()})
    for example in examples:
        record = seeded[example["key"]]
        assert example == {name: record[name] for name in example}, example["key"]


def test_data_model_page_examples_of_unseeded_kinds_are_valid_events():
    made = [example for example in _kind_examples().values() if "key" not in example]
    assert {example["type"] for example in made} == {"protest", "riot"}
    for example in made:
        Event().load({**example, "title": "An example", "sources": [{"publisher": "ACLED"}]})
