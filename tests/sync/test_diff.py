"""The diff in SQL: operations per mode, in-flight markers, retry limits and
erasures, checked on the warehouse directly (no destination involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cdp_sync.config import SyncConfig
from cdp_sync.warehouse import SyncStore, Warehouse, connect, load_profile_target

from .conftest import FULL_MAPPING, Project, customers, file_sync


def store_for(project: Project, mode: str, **over: Any) -> tuple[Warehouse, SyncStore]:
    sync = SyncConfig.model_validate(file_sync("d", mode=mode, **over))
    target = load_profile_target(project.dir)
    wh = connect(target, project.dir)
    store = SyncStore(wh, sync)
    store.ensure_tables()
    return wh, store


def seed_state(store: SyncStore, rows: list[tuple[Any, ...]]) -> None:
    """(pk, synced_hash or 'CURRENT', pending_op, failed_hash or 'CURRENT', attempts)."""
    current = {
        pk: h
        for pk, h in store.wh.query(
            f"select cast(customer_id as varchar), {store.hash_expr()} from {store.sync.source}"
        )
    }
    for pk, synced, pending, failed, attempts in rows:
        synced = current.get(pk) if synced == "CURRENT" else synced
        failed = current.get(pk) if failed == "CURRENT" else failed
        store.wh.execute(
            f"insert into {store.state} (primary_key, synced_hash, pending_op, failed_hash, "
            "attempts, destination_id) values (?, ?, ?, ?, ?, ?)",
            [pk, synced, pending, failed, attempts, f"dest-{pk}"],
        )


SCENARIO = [
    # pk, synced_hash, pending_op, failed_hash, attempts
    ("C00001", "CURRENT", None, None, 0),  # unchanged
    ("C00002", "stale-hash", None, None, 0),  # changed
    ("C00003", "CURRENT", "change", None, 0),  # unconfirmed send of the same version
    ("C00004", None, "add", None, 0),  # add in flight, never confirmed
    ("C00005", None, None, "CURRENT", 3),  # rejected 3 times: given up
    ("C00006", None, None, "CURRENT", 1),  # rejected once: retried
    ("C00007", "old", None, "CURRENT", 3),  # change rejected 3 times: given up
    ("C00090", "x", None, None, 0),  # left the audience: remove (mirror)
    ("C00091", None, "add", None, 0),  # left while its add was in flight: remove (mirror)
    ("C00092", None, None, "y", 2),  # left, never accepted: nothing to do
    ("C00093", "x", None, None, 0),  # erased while held: delete (every mode)
    ("C00094", None, None, None, 0),  # erased, never held: nothing to do
]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # adds: C4 (in flight), C6 (retry), C8, C9; changes: C2, C3; delete: C93;
        # given up: C5 (add), C7 (change)
        ("upsert", {"add": 4, "change": 2, "remove": 0, "delete": 1, "exhausted": 2}),
        ("insert-only", {"add": 4, "change": 0, "remove": 0, "delete": 1, "exhausted": 1}),
        ("update-only", {"add": 0, "change": 6, "remove": 0, "delete": 1, "exhausted": 2}),
        ("mirror", {"add": 4, "change": 2, "remove": 2, "delete": 1, "exhausted": 2}),
    ],
)
def test_diff_per_mode(project: Project, mode: str, expected: dict[str, int]) -> None:
    project.set_audience(customers(10))  # C00001..C00010
    project.set_erased(["C00093", "C00094", "C00010"])
    wh, store = store_for(project, mode)
    with wh:
        seed_state(store, SCENARIO)
        counts = store.plan_counts()
        got = {k: counts[k] for k in expected}
        assert got == expected
        assert counts["erased_in_source"] == 1  # C00010 is erased: never sent
        work = store.build_work()
        assert {k: work[k] for k in ("add", "change", "remove", "delete")} == {
            k: expected[k] for k in ("add", "change", "remove", "delete")
        }
        ops = {row["pk"]: row["op"] for row in store.work_page(1, 100)}
        assert {pk for pk, op in ops.items() if op == "delete"} == {"C00093"}
        assert "C00010" not in ops and "C00094" not in ops and "C00092" not in ops
        assert "C00001" not in ops
        if mode == "mirror":
            assert ops["C00090"] == "remove" and ops["C00091"] == "remove"
            assert ops["C00003"] == "change"  # pending makes an unchanged row uncertain
        if mode in ("upsert", "mirror"):
            assert ops["C00002"] == "change" and ops["C00006"] == "add"
            assert "C00005" not in ops and "C00007" not in ops
        if mode == "insert-only":
            assert ops["C00004"] == "add" and "C00002" not in ops and "C00007" not in ops
        if mode == "update-only":
            assert ops["C00008"] == "change"  # never synced: attempted as an update
        attempts = {row["pk"]: row["attempt"] for row in store.work_page(1, 100)}
        if "C00006" in attempts:
            assert attempts["C00006"] == 2


def test_hash_is_sql_and_mapping_sensitive(project: Project) -> None:
    project.set_audience(customers(3))
    wh, store = store_for(project, "mirror")
    with wh:
        h1 = dict(wh.query(f"select customer_id, {store.hash_expr()} from {store.sync.source}"))
        assert len(set(h1.values())) == 3 and all(len(h) == 32 for h in h1.values())
        # null vs empty string differ; a different mapping gives different hashes
        mapping = dict(FULL_MAPPING)
        mapping.pop("phone")
        other = SyncStore(wh, SyncConfig.model_validate(file_sync("e", mapping=mapping)))
        h2 = dict(wh.query(f"select customer_id, {other.hash_expr()} from {other.sync.source}"))
        assert set(h1.values()).isdisjoint(h2.values())
        a = wh.query(f"select {store.hash_expr()} from (select {_cols(null=True)})")[0][0]
        b = wh.query(f"select {store.hash_expr()} from (select {_cols(null=False)})")[0][0]
        assert a != b


def _cols(null: bool) -> str:
    vals = ", ".join(f"'' as {c}" if not null else f"null as {c}" for c in FULL_MAPPING)
    return vals


def test_tombstone_missing_is_a_warning(project: Project, tmp_path: Path) -> None:
    project.set_audience(customers(2))
    project.write_syncs(file_sync(tombstone="marts.no_such_table"))
    res = project.cli("plan")
    assert res.exit_code == 0 and "tombstone relation marts.no_such_table not found" in res.stdout
    project.write_syncs(file_sync(tombstone="none"))
    res = project.cli("plan")
    assert res.exit_code == 0 and "tombstone" not in res.stdout
