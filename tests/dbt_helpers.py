"""Run dbt against a DuckDB file of the test's own (as a subprocess: an in-process
dbt keeps its DuckDB connection open, which locks the file for the test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
RUN_AT = "2026-11-01 12:00:00"


def run_dbt(
    database: Path,
    *args: str,
    project_dir: Path = PROJECT_DIR,
    check: bool = True,
    dbt_vars: dict[str, object] | None = None,
) -> str:
    """Invoke dbt on `database` with the pinned run time (and `dbt_vars`); raise with dbt's own
    output when it fails (unless check=False)."""
    profiles = PROJECT_DIR / "profiles.yml"
    if not profiles.exists():
        shutil.copy(PROJECT_DIR / "profiles.yml.example", profiles)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--vars",
            json.dumps({"cdp_run_at": RUN_AT, **(dbt_vars or {})}),
        ],
        cwd=project_dir,
        env={**os.environ, "CDP_DUCKDB_PATH": str(database)},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    return result.stdout


def built_copy(tmp_path: Path) -> Path:
    """A private copy of the suite's built warehouse (built here if `make test` did not)."""
    shared = os.environ.get("CDP_TEST_DB")
    database = tmp_path / "warehouse.duckdb"
    if shared and Path(shared).exists():
        shutil.copy(shared, database)
    else:
        run_dbt(database, "seed")
        run_dbt(database, "build", "--exclude", "test_type:unit")
    return database


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def execute(database: Path, sql: str) -> None:
    with duckdb.connect(str(database)) as connection:
        connection.execute(sql)
