import os
import subprocess
import sys
import tempfile
import uuid

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pbrl  # noqa: F401 (imported for its side effect: registers the pbrl/... ids)
from pbrl.envs import SUITE, dependency_installed


def skip_unless_installed(entry) -> None:
    """Skip a test whose optional dependency is absent; fail instead when PBRL_REQUIRE_ALL=1 (CI)."""
    if dependency_installed(entry):
        return
    message = f"{entry.id} needs {entry.install_hint}"
    if os.environ.get("PBRL_REQUIRE_ALL") == "1":
        pytest.fail(f"PBRL_REQUIRE_ALL=1 but {message}")
    pytest.skip(message)


def _run_python(code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``code`` as a script in a fresh interpreter (this venv's python), outside the repository,
    as another project would: nothing of this test process (imports, sys.path) carries over."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "other_project.py")
        with open(path, "w") as f:
            f.write(code)
        return subprocess.run(
            [sys.executable, path], capture_output=True, text=True, timeout=timeout, cwd=tmp, env=env
        )


ALL_IDS = [entry.id for entry in SUITE]
ENTRIES = {entry.id: entry for entry in SUITE}


@pytest.fixture(params=ALL_IDS)
def env_id(request):
    skip_unless_installed(ENTRIES[request.param])
    return request.param


@pytest.fixture
def run_python():
    """Run code as a script in a fresh interpreter outside the repository (another project)."""
    return _run_python


@pytest.fixture
def require():
    """``require(env_id)``: skip (or, with PBRL_REQUIRE_ALL=1, fail) if its extra is missing."""
    return lambda env_id: skip_unless_installed(ENTRIES[env_id])


# the PostgreSQL server of the store tests (bash scripts/start-postgres.sh starts this one; .ci/run does)
POSTGRES = os.environ.get("PBRL_TEST_POSTGRES", "postgresql://pbrl:pbrl@127.0.0.1:5432/pbrl_test")


@pytest.fixture(scope="session")
def postgres_server():
    """The test server's URL; skipped when none answers (a failure with PBRL_REQUIRE_ALL=1)."""
    try:
        import psycopg

        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except Exception as exc:  # not installed, not running, refused
        message = f"no PostgreSQL server at {POSTGRES} ({type(exc).__name__}: {exc}); bash scripts/start-postgres.sh"
        if os.environ.get("PBRL_REQUIRE_ALL") == "1":
            pytest.fail(f"PBRL_REQUIRE_ALL=1 but {message}")
        pytest.skip(message)
    return POSTGRES


@pytest.fixture
def postgres_run(postgres_server):
    """A fresh run name on the test server, (server URL, name); its schema dropped afterwards."""
    run = f"test-{uuid.uuid4().hex[:12]}"
    yield postgres_server, run
    import psycopg

    with psycopg.connect(postgres_server, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "pbrl_{run}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where a test's label store lives, once per backend: a labels.sqlite path, or a
    PostgreSQL URL naming a run of its own (its schema dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "labels.sqlite")
        return
    server, run = request.getfixturevalue("postgres_run")
    yield f"{server}/{run}"
