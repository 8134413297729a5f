"""CI runs the README's test command as written, twice: as CI and as a newcomer would."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"


def _readme_test_command() -> str:
    """The README's command that sets up and runs the tests (the line that ends in pytest)."""
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    return next(
        line for line in lines if line.startswith("python3 -m venv") and line.endswith("pytest")
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
