"""Read the same relation from DuckDB and from the Snowflake target and compare
the two as multisets of rows, with an explicit tolerance for floating point."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FLOAT_TOLERANCE = 1e-9

Row = tuple[Any, ...]


def normalize(value: Any) -> Any:
    """One Python representation per value, whichever engine returned it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    return value


def _sort_key(row: Row) -> tuple:
    # floats are compared with a tolerance, so they sort by a rounded value
    return tuple(
        (0, "") if v is None else (1, repr(round(v, 6))) if isinstance(v, float) else (2, repr(v))
        for v in row
    )


def _same(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, str) or isinstance(b, str):
            return False
        return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=tolerance)
    return a == b


def diff_rows(
    left: Iterable[Sequence[Any]], right: Iterable[Sequence[Any]], tolerance: float = FLOAT_TOLERANCE
) -> list[tuple[Row | None, Row | None]]:
    """Pairs (left row, right row) that differ; None where a row has no partner."""
    a = sorted((tuple(normalize(v) for v in r) for r in left), key=_sort_key)
    b = sorted((tuple(normalize(v) for v in r) for r in right), key=_sort_key)
    out: list[tuple[Row | None, Row | None]] = []
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and j < len(b) and all(_same(x, y, tolerance) for x, y in zip(a[i], b[j], strict=True)):
            i += 1
            j += 1
        elif j >= len(b) or (i < len(a) and _sort_key(a[i]) <= _sort_key(b[j])):
            out.append((a[i], None))
            i += 1
        else:
            out.append((None, b[j]))
            j += 1
    return out


def max_float_difference(left: Iterable[Sequence[Any]], right: Iterable[Sequence[Any]]) -> float:
    """Largest absolute difference between float columns of rows already in the same order."""
    worst = 0.0
    for ra, rb in zip(left, right, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float | Decimal) and isinstance(y, float | Decimal):
                worst = max(worst, abs(float(x) - float(y)))
    return worst


# ---- what may differ between the warehouses, and why ------------------------------------------

_RAW_ROW = (
    "the landed row as JSON text: Snowflake's OBJECT_CONSTRUCT_KEEP_NULL(t.*) names keys after the stored"
    " (upper-case) columns and writes timestamps its own way; it and its hashes are only ever compared"
    " within one warehouse (erasure matching, duplicate detection)"
)
_WALL_CLOCK = "the wall-clock time (or dbt invocation) of the build: different for every build, anywhere"
_FINGERPRINT = (
    "a 64-bit hash of the customer's input rows, which only decides what an incremental run rebuilds:"
    " DuckDB's hash() and Snowflake's HASH() differ, and it is only compared within one warehouse"
)
_SCD = {c: _WALL_CLOCK for c in ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")}
EXPLAINED: dict[str, dict[str, str]] = {
    **{
        f"staging.base_{name}": {"_raw_row": _RAW_ROW}
        for name in [
            "app__users",
            "consent__events",
            "crm__contacts",
            "helpdesk__tickets",
            "newsletter__signups",
            "privacy__deletion_requests",
            "shop__customers",
            "shop__orders",
            "web__events",
        ]
    },
    "staging.stg_audit__quarantine": {"raw_row": _RAW_ROW, "quarantine_row_id": _RAW_ROW},
    "staging.stg_privacy__erasure_scope": {"raw_row_hash": _RAW_ROW},
    "staging.stg_privacy__identifier_index": {"raw_row_hash": _RAW_ROW, "row_id": _RAW_ROW},
    "staging.stg_audit__raw_row_ledger": {"row_id": _RAW_ROW},
    "marts.dim_customers": {"inputs_fingerprint": _FINGERPRINT},
    "marts.dim_customer_identifiers": {"inputs_fingerprint": _FINGERPRINT},
    "marts.customer_consent": {"inputs_fingerprint": _FINGERPRINT},
    "marts.customer_consent_flags": {"inputs_fingerprint": _FINGERPRINT},
    "snapshots.dim_customers_snapshot": _SCD,
    "snapshots.audience_membership_snapshot": _SCD,
    "marts.audience_membership_history": {
        "membership_stay_id": _WALL_CLOCK + " (dbt_scd_id of the snapshot)",
        "entered_at": _WALL_CLOCK + " (dbt_valid_from of the snapshot)",
        "left_at": _WALL_CLOCK + " (dbt_valid_to of the snapshot)",
    },
    "marts.audience_size_history": {"invocation_id": _WALL_CLOCK, "built_at": _WALL_CLOCK},
    "marts.audience_size_changes": {"built_at": _WALL_CLOCK, "previous_built_at": _WALL_CLOCK},
}


# State of the incremental Splink scoring (comparison vectors, record hashes, the model's fingerprint)
# and of the edge-decision pass (its components, which int_identity__clusters copies on DuckDB), which only
# the DuckDB engine keeps; Snowflake rebuilds identity in full (docs/snowflake.md). Every `<model>__<state>`
# table of a DuckDB-only Python model is listed here.
DUCKDB_ONLY = {
    "intermediate.int_identity__splink_edges__pairs",
    "intermediate.int_identity__splink_edges__records",
    "intermediate.int_identity__splink_edges__model",
    "intermediate.int_identity__edge_decisions__clusters",
}


def duckdb_relations(con: Any) -> list[tuple[str, list[str]]]:
    """(schema.name, columns) of every table and view a DuckDB build made (but DUCKDB_ONLY)."""
    names = con.sql(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema not in ('main', 'information_schema') "
        "order by 1"
    ).fetchall()
    return [
        (
            name,
            [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog = current_database()"
                    " and table_schema || '.' || table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
            ],
        )
        for (name,) in names
        if name not in DUCKDB_ONLY
    ]


def compare_builds(duckdb_con: Any, snowflake_con: Any) -> list[tuple[str, int, list[str], list]]:
    """Per relation of the DuckDB build: (name, rows, compared columns, differing row pairs)."""
    out = []
    for name, columns in duckdb_relations(duckdb_con):
        compared = [c for c in columns if c not in EXPLAINED.get(name, {})]
        select = ", ".join(compared)
        left = duckdb_con.sql(f"select {select} from {name}").fetchall()
        cur = snowflake_con.cursor()
        cur.execute(f"select {select} from {name}")
        out.append((name, len(left), compared, diff_rows(left, cur.fetchall())))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Compare a DuckDB build with the Snowflake target (SNOWFLAKE_* and
    DBT_ENV_SECRET_SNOWFLAKE_PASSWORD as for dbt): `python -m tests.snowflake.compare --duckdb FILE`."""
    import argparse
    import os

    import duckdb
    import snowflake.connector

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--duckdb", required=True, help="the DuckDB file built from the same raw data")
    args = parser.parse_args(argv)
    env = os.environ
    kwargs = {
        "account": env["SNOWFLAKE_ACCOUNT"],
        "user": env["SNOWFLAKE_USER"],
        "password": env["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"],
        "database": env.get("SNOWFLAKE_DATABASE", "CDP"),
        "warehouse": env.get("SNOWFLAKE_WAREHOUSE", "TRANSFORMING"),
        "role": env.get("SNOWFLAKE_ROLE", "TRANSFORMER"),
    }
    if env.get("SNOWFLAKE_HOST"):  # a local emulator
        kwargs.update(host=env["SNOWFLAKE_HOST"], port=int(env.get("SNOWFLAKE_PORT", "443")))
        kwargs["protocol"] = env.get("SNOWFLAKE_PROTOCOL", "https")
    snowflake_con = snowflake.connector.connect(**kwargs)
    failed = 0
    with duckdb.connect(args.duckdb, read_only=True) as duckdb_con:
        for name, rows, _columns, differences in compare_builds(duckdb_con, snowflake_con):
            print(f"{name}: {rows} rows, {len(differences)} differing")
            for left, right in differences[:5]:
                print(f"    duckdb    {left}\n    snowflake {right}")
            failed += bool(differences)
    snowflake_con.close()
    for name, columns in EXPLAINED.items():
        for column, reason in columns.items():
            print(f"not compared: {name}.{column}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
