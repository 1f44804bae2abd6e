"""The Snowflake target end to end, without a Snowflake account.

A fakesnow server (Snowflake's HTTP protocol on DuckDB) runs on 127.0.0.1 for the whole session;
dbt-snowflake and cdp-sync talk to it exactly as to a real account (profile target `snowflake`,
env vars SNOWFLAKE_*). The project is seeded and built on it once (`snowflake_build`), and its
tables are compared with the DuckDB build of the same seeds (`duckdb_build`: the suite's
CDP_TEST_DB when `make test` built it, else a build of our own).

What this cannot prove is written down in docs/snowflake.md.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.dbt_helpers import PROJECT_DIR, RUN_AT, built_copy

try:
    import cdp_sync  # noqa: F401
except ImportError:  # not installed: use the source tree (as tests/sync does)
    sys.path.insert(0, str(PROJECT_DIR / "sync"))

# Environment the Makefile/CI may export that must not leak into these tests.
SCRUB_ENV = ["CDP_TARGET", "CDP_DUCKDB_PATH", "DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_PROFILES_DIR"]
DATABASE = "CDP"


@dataclass
class FakeSnowflake:
    port: int
    process: subprocess.Popen = field(repr=False)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for the `snowflake` target of profiles.yml.example."""
        env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
        env.update(
            SNOWFLAKE_ACCOUNT="fakesnow",
            SNOWFLAKE_USER="fake",
            DBT_ENV_SECRET_SNOWFLAKE_PASSWORD="snow",
            SNOWFLAKE_HOST="127.0.0.1",
            SNOWFLAKE_PORT=str(self.port),
            SNOWFLAKE_PROTOCOL="http",
            SNOWFLAKE_CONNECT_RETRIES="0",
            SNOWFLAKE_DATABASE=DATABASE,
            SNOWFLAKE_SCHEMA="CDP",
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        env.update(extra)
        return env

    def connect(self) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(
            account="fakesnow",
            user="fake",
            password="snow",
            host="127.0.0.1",
            port=self.port,
            protocol="http",
            database=DATABASE,
            schema="CDP",
            login_timeout=10,
            network_timeout=120,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[FakeSnowflake]:
    """A fakesnow server on an ephemeral port of 127.0.0.1, stopped at the end of the session."""
    pytest.importorskip("fakesnow", reason="fakesnow[server] is in the dev extra")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.snowflake.fakesnow_server"],
        cwd=PROJECT_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    port = None
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while port is None and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if line.startswith("PORT "):
                port = int(line.split()[1])
    if port is None:
        process.kill()
        raise RuntimeError("fakesnow server did not start")
    try:
        yield FakeSnowflake(port, process)
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the server stops when its stdin closes
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


@dataclass
class DbtRun:
    target_path: Path
    log_path: Path
    output: str


def run_dbt_snowflake(
    server: FakeSnowflake, work: Path, *args: str, dbt_vars: dict[str, Any] | None = None, check: bool = True
) -> DbtRun:
    """dbt on the `snowflake` target with a target and log directory of its own (JSON file log)."""
    profiles = PROJECT_DIR / "profiles.yml"
    if not profiles.exists():
        shutil.copy(PROJECT_DIR / "profiles.yml.example", profiles)
    target_path, log_path = work / "target", work / "logs"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--target",
            "snowflake",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target_path),
            "--log-path",
            str(log_path),
            "--log-format-file",
            "json",
            "--vars",
            json.dumps({"cdp_run_at": RUN_AT, **(dbt_vars or {})}),
        ],
        cwd=PROJECT_DIR,
        env=server.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} --target snowflake failed:\n{result.stdout[-6000:]}")
    return DbtRun(target_path, log_path, result.stdout)


def dbt_in_parallel(runs: list[tuple[list[str], dict[str, str], Path]]) -> list[str]:
    """Several dbt invocations at once, each (args, environment, work directory for its target and
    log paths), on the project; returns their outputs and fails with the first failure's."""
    processes = []
    for args, env, work in runs:
        command = [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ]
        processes.append(
            subprocess.Popen(
                command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = [process.communicate()[0] for process in processes]
    for (args, _, _), process, output in zip(runs, processes, outputs, strict=True):
        assert process.returncode == 0, f"dbt {' '.join(args)} failed:\n{output[-4000:]}"
    return outputs


def duckdb_env(database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
    env["CDP_DUCKDB_PATH"] = str(database)
    return env


@dataclass
class SnowflakeBuild:
    server: FakeSnowflake
    work: Path
    seed: DbtRun
    build: DbtRun

    def executed_sql(self) -> list[str]:
        """Every statement dbt sent to the warehouse during the build (from its JSON log)."""
        statements = []
        for line in (self.build.log_path / "dbt.log").read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("info", {}).get("name") == "SQLQuery":
                statements.append(event["data"]["sql"])
        return statements


@pytest.fixture(scope="session")
def snowflake_build(
    fakesnow_server: FakeSnowflake, tmp_path_factory: pytest.TempPathFactory
) -> SnowflakeBuild:
    """`dbt seed` and `dbt build --target snowflake` of the whole project on the fake server.

    Unit tests are left out: dbt-snowflake runs them on TEMPORARY tables, which fakesnow
    cannot create with a database-qualified name (they run on DuckDB, and on a real account).
    """
    work = tmp_path_factory.mktemp("snowflake_build")
    seed = run_dbt_snowflake(fakesnow_server, work, "seed")
    # seeds first (staging reads them as sources, so dbt cannot order them), and not again in build
    build = run_dbt_snowflake(
        fakesnow_server, work, "build", "--exclude", "test_type:unit", "resource_type:seed"
    )
    return SnowflakeBuild(fakesnow_server, work, seed, build)


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB build of the same seeds (Splink in Python), copied so tests can change it."""
    return built_copy(tmp_path_factory.mktemp("duckdb_build"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "snowflake: runs the Snowflake target on fakesnow (deselect: -m 'not snowflake')"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.snowflake)
