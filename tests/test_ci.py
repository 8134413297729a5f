"""CI runs the README's test command as written, twice: as CI and as a newcomer would."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"


def _readme_test_command() -> str:
    """The command of the README's 'run the tests' block (the one that ends in pytest)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines()]
    return next(
        line for line in commands if line.startswith("python3 -m venv") and line.endswith("pytest")
    )


def test_the_readme_gives_the_test_command_ci_runs():
    assert _readme_test_command() == TEST_COMMAND


def test_ci_runs_the_test_command_against_the_machines_database():
    assert TEST_COMMAND + " || status=$?" in (ROOT / ".ci/run").read_text()


def test_ci_runs_the_test_command_again_as_a_newcomer():
    run = (ROOT / ".ci/run").read_text()
    newcomer = (ROOT / ".ci/as-newcomer").read_text()
    assert "\n.ci/as-newcomer\n" in run
    assert f'test_command="{TEST_COMMAND}"' in newcomer
    # No DATABASE_URL (env -i), an unprivileged user, the usual soft limit.
    assert "env -i" in newcomer and "runuser -u" in newcomer and "ulimit -Sn 1024" in newcomer
