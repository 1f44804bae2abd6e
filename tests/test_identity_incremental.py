"""Incremental identity gives exactly what a full rebuild of the same data gives.

Generated people (cdp-datagen) are built once with part of them held back; the held-back
people and new versions of existing records then land, and the warehouse is built
incrementally (only pairs touching new or changed records are compared) while a copy of it
is rebuilt with `--full-refresh`. Both must agree on every scored pair, on the record ->
cluster mapping and on every customer_id, and people the delta did not touch keep their ids.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from bench import workload
from tests.dbt_helpers import query, run_dbt

NOW = datetime(2026, 11, 1, 12, 0, 0)
PEOPLE = 3000
SELECT = ["path:models/staging", "path:models/intermediate/identity", "path:models/marts/identity"]


def _build(database: Path, run_at: datetime, *extra: str) -> None:
    run_dbt(
        database,
        "run",
        "--select",
        *SELECT,
        *extra,
        dbt_vars={"cdp_run_at": run_at.strftime("%Y-%m-%d %H:%M:%S")},
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("incremental")
    base = root / "base.duckdb"
    subprocess.run(
        [sys.executable, "-m", "cdp_datagen", "--people", str(PEOPLE), "--seed", "3",
         "--now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "--events-per-person", "2",
         "--format", "duckdb", "--out", str(base)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with duckdb.connect(str(base)) as con:
        # 5 % of the people are held back, and new versions of 5 % of the mutable records
        workload.hold_out(con, 0.05, NOW + timedelta(minutes=20))
    run_dbt(base, "seed", "--select", "path:seeds/reference")
    _build(base, NOW, "--full-refresh")
    before = root / "before.duckdb"
    shutil.copy(base, before)

    with duckdb.connect(str(base)) as con:
        workload.land_delta(con, NOW + timedelta(minutes=30))
    full = root / "full.duckdb"
    shutil.copy(base, full)
    later = NOW + timedelta(hours=1)
    _build(base, later)  # incremental
    _build(full, later, "--full-refresh")  # every pair compared again; the id registry survives
    return {"before": before, "incremental": base, "full": full}


def _rows(database: Path, sql: str) -> set[tuple]:
    return set(query(database, sql))


def test_incremental_run_compares_only_pairs_touching_changed_records(builds: dict[str, Path]) -> None:
    state = "intermediate.int_identity__splink_edges__pairs"
    pairs = "select record_key_l, record_key_r, match_key, * like 'gamma_%' from " + state
    assert _rows(builds["incremental"], pairs) == _rows(builds["full"], pairs)
    # the delta is small: most stored pairs are kept from the first run, not compared again
    kept = _rows(builds["before"], pairs) & _rows(builds["incremental"], pairs)
    assert len(kept) > 0.8 * len(_rows(builds["incremental"], pairs))
    meta = "select last_run_mode, compared_records, compared_pairs, stored_pairs"
    meta += " from intermediate.int_identity__splink_edges__model"
    (mode, records, compared, stored), *_ = query(builds["incremental"], meta)
    assert mode == "incremental" and 0 < compared < 0.25 * stored, (records, compared, stored)
    assert query(builds["full"], meta)[0][0] == "full"


def test_incremental_scores_clusters_and_ids_equal_a_full_rebuild(builds: dict[str, Path]) -> None:
    edges = "select left_record_key, right_record_key, match_probability, match_weight from "
    edges += "intermediate.int_identity__splink_edges"
    assert _rows(builds["incremental"], edges) == _rows(builds["full"], edges)

    decisions = "select left_record_key, right_record_key, edge_kind, identifier_value, decision, "
    decisions += "decision_reason from intermediate.int_identity__edge_decisions"
    assert _rows(builds["incremental"], decisions) == _rows(builds["full"], decisions)

    clusters = "select record_key, cluster_key from intermediate.int_identity__clusters"
    incremental_clusters = _rows(builds["incremental"], clusters)
    assert incremental_clusters == _rows(builds["full"], clusters)
    assert len(incremental_clusters) > len(_rows(builds["before"], clusters))  # the delta landed

    ids = "select record_key, customer_id from marts.dim_customer_records"
    assert _rows(builds["incremental"], ids) == _rows(builds["full"], ids)


def _run_customer_marts(database: Path) -> None:
    """An incremental run of the two customer marts alone, at the incremental build's clock."""
    run_dbt(
        database,
        "run",
        "--select",
        "dim_customers",
        "dim_customer_identifiers",
        dbt_vars={"cdp_run_at": (NOW + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")},
    )


@pytest.mark.parametrize("mart", ["marts.dim_customers", "marts.dim_customer_identifiers"])
def test_incremental_customer_marts_equal_a_full_rebuild(builds: dict[str, Path], mart: str) -> None:
    """The golden records and identifiers the incremental run rebuilt (only customers whose inputs
    changed) plus those it kept equal a full rebuild, fingerprints included."""
    rows = f"select * from {mart}"
    assert _rows(builds["incremental"], rows) == _rows(builds["full"], rows)
    # the delta changed customers that existed before, so the comparison covers rebuilt rows
    assert _rows(builds["before"], rows) - _rows(builds["incremental"], rows)


def test_customer_marts_rebuild_only_changed_customers(builds: dict[str, Path], tmp_path: Path) -> None:
    """Marker test: rows planted on customers whose inputs did not change survive an incremental
    run (nothing rebuilt them); a changed input is picked up (the planted row is rebuilt)."""
    database = tmp_path / "planted.duckdb"
    shutil.copy(builds["incremental"], database)
    kept, changed = (
        row[0]
        for row in query(
            database,
            "select customer_id from marts.dim_customer_identifiers group by customer_id order by customer_id limit 2",
        )
    )
    changed_record = query(
        database, f"select min(record_key) from marts.dim_customer_records where customer_id = '{changed}'"
    )[0][0]
    with duckdb.connect(str(database)) as con:
        for customer in (kept, changed):
            con.execute(f"update marts.dim_customers set record_count = -1 where customer_id = '{customer}'")
            con.execute(
                f"update marts.dim_customer_identifiers set record_count = -1 where customer_id = '{customer}'"
            )
        # a new observation time of one record: an input of both marts
        con.execute(
            "update intermediate.int_identity__nodes set observed_at = observed_at + interval 1 second "
            f"where record_key = '{changed_record}'"
        )
        con.execute(
            "update intermediate.int_identity__identifiers set observed_at = observed_at + interval 1 second "
            f"where record_key = '{changed_record}'"
        )
    _run_customer_marts(database)
    for mart in ("marts.dim_customers", "marts.dim_customer_identifiers"):
        planted = dict(
            query(database, f"select customer_id, min(record_count) from {mart} group by customer_id")
        )
        assert planted[kept] == -1, f"{mart} rebuilt a customer whose inputs did not change"
        assert planted[changed] > 0, f"{mart} kept a customer whose inputs changed"


def test_the_delta_moves_old_edges_so_a_missed_component_would_show(builds: dict[str, Path]) -> None:
    """The equality above proves an incremental run exact only if the delta changes what old edges
    look like: term-frequency drift must move the probability of Splink pairs between records the
    delta did not touch, and edges between untouched records must get another decision. Anything that
    re-decided only the edges of new or changed records, or only edges whose probability crossed the
    threshold, would then differ from the full rebuild."""
    records = """select record_key, list_sort(list(identifier_type || '=' || identifier_value))
                 from intermediate.int_identity__identifiers group by record_key"""
    hashes = "select record_key, record_hash from intermediate.int_identity__splink_edges__records"
    before_ids, after_ids = (
        dict(query(builds["before"], records)),
        dict(query(builds["incremental"], records)),
    )
    before_hash, after_hash = (
        dict(query(builds["before"], hashes)),
        dict(query(builds["incremental"], hashes)),
    )
    untouched = {
        r for r in before_ids.keys() & after_ids.keys()
        if before_ids[r] == after_ids[r] and before_hash.get(r) == after_hash.get(r)
    }  # fmt: skip

    pairs = "select left_record_key, right_record_key, match_probability from intermediate.int_identity__splink_edges"
    before = {(a, b): p for a, b, p in query(builds["before"], pairs) if a in untouched and b in untouched}
    after = {(a, b): p for a, b, p in query(builds["incremental"], pairs)}
    drifted = [k for k in before.keys() & after.keys() if before[k] != after[k]]
    assert len(drifted) > 0.5 * len(before), (len(drifted), len(before))

    decisions = "select left_record_key, right_record_key, edge_kind, decision, decision_reason"
    decisions += " from intermediate.int_identity__edge_decisions"
    old = {
        r[:3]: r[3:] for r in query(builds["before"], decisions) if r[0] in untouched and r[1] in untouched
    }
    new = {r[:3]: r[3:] for r in query(builds["incremental"], decisions)}
    flipped = [k for k in old.keys() & new.keys() if old[k] != new[k]]
    assert flipped, "no edge between untouched records changed its decision: the delta exercises too little"


def test_untouched_people_keep_their_customer_ids(builds: dict[str, Path]) -> None:
    sql = "select record_key, customer_id from marts.dim_customer_records"
    before = dict(query(builds["before"], sql))
    after = dict(query(builds["incremental"], sql))

    def members(ids: dict[str, str]) -> dict[str, frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for record, customer in ids.items():
            groups.setdefault(customer, set()).add(record)
        return {record: frozenset(groups[customer]) for record, customer in ids.items()}

    old, new = members(before), members(after)
    untouched = [r for r in before if old[r] == new.get(r)]
    assert len(untouched) > 0.8 * len(before)
    assert all(after[r] == before[r] for r in untouched)


def test_customer_marts_built_before_the_fingerprint_upgrade_in_place(
    builds: dict[str, Path], tmp_path: Path
) -> None:
    """A warehouse whose customer marts predate `inputs_fingerprint` (an upgrade): the first incremental
    run adds the column and rebuilds every customer, giving what a full rebuild gives."""
    database = tmp_path / "upgraded.duckdb"
    shutil.copy(builds["incremental"], database)
    with duckdb.connect(str(database)) as con:
        for mart in ("marts.dim_customers", "marts.dim_customer_identifiers"):
            con.execute(f"alter table {mart} drop column inputs_fingerprint")
            con.execute(f"update {mart} set record_count = -1")
    _run_customer_marts(database)
    for mart in ("marts.dim_customers", "marts.dim_customer_identifiers"):
        rows = f"select * from {mart}"
        assert _rows(database, rows) == _rows(builds["full"], rows), mart
