"""cdp-sync pointed at the Snowflake target (the fakesnow server): it reads the audience built there,
diffs it against its state tables kept in Snowflake (schema cdp_sync), and pushes the changes to a
loopback webhook (tests/sync/fakes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.dbt_helpers import PROJECT_DIR
from tests.snowflake.conftest import SnowflakeBuild
from tests.sync.fakes.webhook import FakeWebhook

SECRET = "whsec_snowflake_test_7c1d"
SYNC = "snowflake_hv_hook"
AUDIENCE = "audiences.sync_test_high_value"
MAPPING = {
    "customer_id": "customer_id",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "country_code": "country_code",
    "lifetime_value": "lifetime_value",
    "order_count": "order_count",
    "last_order_at": "last_order_at",
}


@pytest.fixture
def webhook() -> Any:
    fake = FakeWebhook(SECRET)
    with fake:
        yield fake
    assert not fake.errors, fake.errors


def _project(tmp_path: Path, url: str) -> Path:
    shutil.copy(PROJECT_DIR / "profiles.yml.example", tmp_path / "profiles.yml")
    (tmp_path / "dbt_project.yml").write_text("name: sync_test\nprofile: cdp\n")
    config = {
        "version": 1,
        "state_schema": "cdp_sync",
        "defaults": {
            "primary_key": "customer_id",
            "tombstone": "marts.erased_customers",
            "http": {
                "timeout": 5,
                "connect_timeout": 2,
                "max_retries": 2,
                "backoff_base": 0.01,
                "backoff_max": 0.05,
            },
        },
        "syncs": [
            {
                "name": SYNC,
                "source": AUDIENCE,
                "mode": "mirror",
                "mapping": MAPPING,
                "destination": {
                    "type": "webhook",
                    "url": url,
                    "secret_env": "CDP_WEBHOOK_SECRET",
                    "batch_size": 5,
                },
            }
        ],
    }
    (tmp_path / "syncs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return tmp_path


def _cli(build: SnowflakeBuild, project: Path, *args: str) -> subprocess.CompletedProcess:
    env = build.server.env(
        CDP_WEBHOOK_SECRET=SECRET,
        PYTHONPATH=os.pathsep.join([str(PROJECT_DIR / "sync"), str(PROJECT_DIR)]),
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cdp_sync",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--config",
            str(project / "syncs.yml"),
            "--target",
            "snowflake",
            "--json",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _events(result: subprocess.CompletedProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_sync_from_snowflake_to_a_loopback_webhook(
    snowflake_build: SnowflakeBuild, duckdb_build: Path, webhook: FakeWebhook, tmp_path: Path
) -> None:
    server = snowflake_build.server
    # a copy of the built audience, so this test can change it without touching the build
    conn = server.connect()
    try:
        conn.cursor().execute(
            f"create or replace table {AUDIENCE} as select * from audiences.aud_high_value_customers"
        )
    finally:
        conn.close()
    audience = {r[0]: r for r in server.query(f"select {', '.join(MAPPING.values())} from {AUDIENCE}")}
    assert len(audience) >= 5
    project = _project(tmp_path, webhook.url)

    plan = _cli(snowflake_build, project, "plan", SYNC)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert _events(plan)[0]["plans"][0]["counts"]["add"] == len(audience)

    first = _cli(snowflake_build, project, "run", SYNC)
    assert first.returncode == 0, first.stdout + first.stderr
    finished = next(e for e in _events(first) if e["event"] == "run_finished")
    assert finished["status"] == "success" and finished["rows_added"] == len(audience)
    assert set(webhook.records) == set(audience)
    # what arrived is what DuckDB's build holds for the same audience
    with duckdb.connect(str(duckdb_build), read_only=True) as dd:
        reference = {
            r[0]: r
            for r in dd.sql(
                f"select {', '.join(MAPPING.values())} from audiences.aud_high_value_customers"
            ).fetchall()
        }
    assert set(reference) == set(webhook.records)
    for customer_id, fields in webhook.records.items():
        row = reference[customer_id]
        assert (fields["email"], fields["first_name"], fields["last_name"], fields["country_code"]) == row[
            1:5
        ]
        assert float(fields["lifetime_value"]) == pytest.approx(float(row[5]), abs=1e-9)
        assert int(fields["order_count"]) == row[6]

    # the state lives in Snowflake
    synced = server.query(f"select count(*) from cdp_sync.state_{SYNC} where synced_hash is not null")[0][0]
    assert synced == len(audience)
    assert server.query(f"select status from cdp_sync.sync_runs where sync_name = '{SYNC}'") == [("success",)]

    # nothing changed: nothing is sent
    batches = len(webhook.batches)
    again = _cli(snowflake_build, project, "run", SYNC)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(webhook.batches) == batches

    # one customer leaves the audience, another changes: exactly those two rows go out
    leaving, changing = sorted(audience)[:2]
    conn = server.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"delete from {AUDIENCE} where customer_id = '{leaving}'")
        cur.execute(
            f"update {AUDIENCE} set email = 'changed.{changing[-6:]}@example.org' where customer_id = '{changing}'"
        )
    finally:
        conn.close()
    third = _cli(snowflake_build, project, "run", SYNC)
    assert third.returncode == 0, third.stdout + third.stderr
    finished = next(e for e in _events(third) if e["event"] == "run_finished")
    assert (finished["rows_removed"], finished["rows_changed"], finished["rows_added"]) == (1, 1, 0)
    assert leaving not in webhook.records
    assert webhook.records[changing]["email"] == f"changed.{changing[-6:]}@example.org"

    status = _cli(snowflake_build, project, "status", SYNC)
    assert status.returncode == 0, status.stdout + status.stderr
    runs = server.query(
        f"select status from cdp_sync.sync_runs where sync_name = '{SYNC}' order by started_at"
    )
    assert runs == [("success",)] * 3
