"""Fixtures for the cdp-sync tests: a throwaway project (profiles.yml, syncs
YAML, a DuckDB file with audience tables of the real shape), CLI runners (in
process and as a subprocess) and fake destination servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYNC_DIR = ROOT / "sync"
try:
    import cdp_sync  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(SYNC_DIR))

from cdp_sync.cli import app  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from .fakes.braze import FakeBraze  # noqa: E402
from .fakes.hubspot import FakeHubSpot  # noqa: E402
from .fakes.mailchimp import FakeMailchimp  # noqa: E402
from .fakes.webhook import FakeWebhook  # noqa: E402

AUDIENCE_COLUMNS = {
    "customer_id": "varchar",
    "email": "varchar",
    "phone": "varchar",
    "first_name": "varchar",
    "last_name": "varchar",
    "country_code": "varchar",
    "lifetime_value": "double",
    "order_count": "integer",
    "last_order_at": "timestamp",
    "email_marketing_consent": "boolean",
}
AUDIENCES = [
    "aud_high_value_customers",
    "aud_cart_abandoners",
    "aud_lapsed_customers",
    "aud_newsletter_never_purchased",
    "aud_high_intent_browsers",
]
FIRST = ["Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farah", "Goran", "Hana", "Ines", "Jonas"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Silva", "Kowalski", "Haddad"]
# Environment the Makefile/CI may export that must not leak into these tests.
SCRUB_ENV = [
    "CDP_TARGET",
    "CDP_DUCKDB_PATH",
    "DBT_PROFILES_DIR",
    "DBT_PROJECT_DIR",
    "CDP_SYNC_CONFIG",
    "CDP_SYNC_FAILPOINT",
]
FAST_HTTP = {
    "timeout": 2.0,
    "connect_timeout": 1.0,
    "max_retries": 3,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "max_retry_after": 5.0,
}
HUBSPOT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
BRAZE_KEY = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
WEBHOOK_SECRET = "whsec_test_4f9d2c7b1a"


def customer(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "customer_id": f"C{i:05d}",
        "email": f"{FIRST[i % len(FIRST)].lower()}.{LAST[i % len(LAST)].lower()}{i}@example.com",
        "phone": f"+4420794{i:05d}",
        "first_name": FIRST[i % len(FIRST)],
        "last_name": LAST[i % len(LAST)],
        "country_code": ["GB", "US", "DE", "FR"][i % 4],
        "lifetime_value": round(100 + i * 3.25, 2),
        "order_count": 1 + i % 7,
        "last_order_at": dt.datetime(2026, 10, 1) + dt.timedelta(hours=i),
        "email_marketing_consent": i % 3 != 0,
    }
    row.update(over)
    return row


def customers(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [customer(i) for i in range(start, start + n)]


class Project:
    def __init__(self, root: Path) -> None:
        self.dir = root
        self.db = root / "warehouse" / "cdp.duckdb"
        self.db.parent.mkdir(parents=True, exist_ok=True)
        self.config = root / "sync" / "syncs.yml"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        profile = {
            "cdp": {
                "target": "{{ env_var('CDP_TARGET', 'duckdb') }}",
                "outputs": {
                    "duckdb": {
                        "type": "duckdb",
                        "path": "{{ env_var('CDP_SYNC_TEST_DB', 'warehouse/cdp.duckdb') }}",
                        "threads": 1,
                    },
                    "other": {"type": "duckdb", "path": "warehouse/other.duckdb"},
                },
            }
        }
        (root / "profiles.yml").write_text(yaml.safe_dump(profile))
        con = duckdb.connect(str(self.db))
        con.execute("create schema if not exists audiences")
        con.execute("create schema if not exists marts")
        cols = ", ".join(f"{k} {v}" for k, v in AUDIENCE_COLUMNS.items())
        for name in AUDIENCES:
            con.execute(f"create table audiences.{name} ({cols})")
        con.execute("create table marts.erased_customers (customer_id varchar, erased_at timestamp)")
        con.close()

    # ---- warehouse ---------------------------------------------------------------------

    def con(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db), read_only=read_only)

    def set_audience(self, rows: list[dict[str, Any]], name: str = "aud_high_value_customers"):
        con = self.con()
        con.execute(f"delete from audiences.{name}")
        if rows:
            cols = list(AUDIENCE_COLUMNS)
            one = "(" + ", ".join("?" for _ in cols) + ")"
            for start in range(0, len(rows), 500):
                part = rows[start : start + 500]
                con.execute(
                    f"insert into audiences.{name} ({', '.join(cols)}) values "
                    + ", ".join(one for _ in part),
                    [r.get(c) for r in part for c in cols],
                )
        con.close()

    def set_erased(self, ids: list[str]) -> None:
        con = self.con()
        con.execute("delete from marts.erased_customers")
        for i in ids:
            con.execute("insert into marts.erased_customers values (?, now())", [i])
        con.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = self.con(read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def state(self, sync: str) -> dict[str, dict[str, Any]]:
        con = self.con(read_only=True)
        try:
            cur = con.execute(f"select * from cdp_sync.state_{sync}")
            names = [d[0] for d in cur.description]
            return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        finally:
            con.close()

    def results(self, sync: str, run_id: str | None = None) -> list[dict[str, Any]]:
        con = self.con(read_only=True)
        try:
            sql = "select * from cdp_sync.sync_row_results where sync_name = ?"
            params: list[Any] = [sync]
            if run_id:
                sql += " and run_id = ?"
                params.append(run_id)
            cur = con.execute(sql + " order by recorded_at, primary_key", params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            con.close()

    def runs(self, sync: str) -> list[dict[str, Any]]:
        con = self.con(read_only=True)
        try:
            cur = con.execute(
                "select * from cdp_sync.sync_runs where sync_name = ? order by started_at", [sync]
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            con.close()

    # ---- config --------------------------------------------------------------------------

    def write_syncs(self, *syncs: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        doc = {
            "version": 1,
            "defaults": {"http": dict(FAST_HTTP), **(defaults or {})},
            "syncs": list(syncs),
        }
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False))

    def base_args(self) -> list[str]:
        return [
            "--project-dir",
            str(self.dir),
            "--profiles-dir",
            str(self.dir),
            "--config",
            str(self.config),
        ]

    # ---- running the CLI -----------------------------------------------------------------

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        runner = CliRunner()
        return runner.invoke(app, [*self.base_args(), *args], env=env, catch_exceptions=False)

    def sh(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        wait: bool = True,
    ) -> Any:
        full_env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(SYNC_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "cdp_sync", *self.base_args(), *args]
        if not wait:
            return subprocess.Popen(
                cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SCRUB_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("CDP_HUBSPOT_TOKEN", "CDP_MAILCHIMP_API_KEY", "CDP_BRAZE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CDP_WEBHOOK_SECRET", WEBHOOK_SECRET)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook(WEBHOOK_SECRET)
    with fake:
        yield fake
    assert not fake.errors, fake.errors


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    fake = FakeHubSpot(HUBSPOT_TOKEN)
    with fake:
        yield fake
    assert not fake.errors, fake.errors


@pytest.fixture
def mailchimp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMailchimp]:
    monkeypatch.setenv("CDP_MAILCHIMP_API_KEY", MAILCHIMP_KEY)
    fake = FakeMailchimp(MAILCHIMP_KEY, "aud123")
    with fake:
        yield fake
    assert not fake.errors, fake.errors


@pytest.fixture
def braze(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBraze]:
    monkeypatch.setenv("CDP_BRAZE_API_KEY", BRAZE_KEY)
    fake = FakeBraze(BRAZE_KEY)
    with fake:
        yield fake
    assert not fake.errors, fake.errors


FULL_MAPPING = {c: c for c in AUDIENCE_COLUMNS}


def file_sync(name: str = "hv_file", **over: Any) -> dict[str, Any]:
    sync = {
        "name": name,
        "source": "audiences.aud_high_value_customers",
        "mode": "mirror",
        "mapping": dict(FULL_MAPPING),
        "destination": {"type": "file", "path": f"sync_output/{name}.csv"},
    }
    sync.update(over)
    return sync


def webhook_sync(url: str, name: str = "hv_hook", **over: Any) -> dict[str, Any]:
    dest = {"type": "webhook", "url": url, "batch_size": 10}
    dest.update(over.pop("destination", {}))
    sync = {
        "name": name,
        "source": "audiences.aud_high_value_customers",
        "mode": "mirror",
        "mapping": dict(FULL_MAPPING),
        "destination": dest,
    }
    sync.update(over)
    return sync
