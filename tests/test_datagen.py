"""The synthetic data generator: determinism, the raw contract, ground truth, and the mess
staging is promised (docs/demo-data.md)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from cdp_datagen.cli import main
from cdp_datagen.contract import GROUND_TRUTH, KEY_PREFIX, TABLES, columns

ROOT = Path(__file__).resolve().parents[1]
N = 500
SEED = 7
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
PK = {t: cols[0] for t, cols in TABLES.items()}
ALL = (*TABLES, GROUND_TRUTH)


def _run(fmt: str, out: Path, people: int = N, seed: int = SEED) -> Path:
    main(["--people", str(people), "--seed", str(seed), "--format", fmt, "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("datagen")
    return {
        "csv": _run("csv", base / "csv"),
        "csv2": _run("csv", base / "csv2"),
        "duckdb": _run("duckdb", base / "warehouse.duckdb"),
        "parquet": _run("parquet", base / "parquet"),
    }


@pytest.fixture(scope="module")
def db(out: dict[str, Path]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(out["duckdb"]), read_only=True)
    yield con
    con.close()


def q(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_deterministic_bytes(out: dict[str, Path]) -> None:
    for t in ALL:
        a = (out["csv"] / f"{t}.csv").read_bytes()
        assert a == (out["csv2"] / f"{t}.csv").read_bytes(), t


def test_other_seed_differs(tmp_path: Path) -> None:
    a = _run("csv", tmp_path / "a", people=50, seed=1)
    b = _run("csv", tmp_path / "b", people=50, seed=2)
    assert (a / "crm_contacts.csv").read_bytes() != (b / "crm_contacts.csv").read_bytes()


def test_csv_headers_match_contract(out: dict[str, Path]) -> None:
    for t in ALL:
        with (out["csv"] / f"{t}.csv").open(newline="") as fh:
            assert tuple(next(csv.reader(fh))) == columns(t), t
    assert sorted(p.name for p in out["csv"].iterdir()) == sorted(f"{t}.csv" for t in ALL)


def test_duckdb_types_match_contract(db: duckdb.DuckDBPyConnection) -> None:
    for t in ALL:
        rows = q(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'raw' AND table_name = '{t}' ORDER BY ordinal_position",
        )
        assert tuple(r[0] for r in rows) == columns(t), t
        for name, typ in rows:
            assert typ == ("TIMESTAMP" if name == "_loaded_at" else "VARCHAR"), (t, name, typ)


def test_formats_agree_on_row_counts(out: dict[str, Path], db: duckdb.DuckDBPyConnection) -> None:
    for t in ALL:
        (n_db,) = db.execute(f"SELECT count(*) FROM raw.{t}").fetchone()
        (n_pq,) = db.execute(
            f"SELECT count(*) FROM read_parquet('{out['parquet'] / f'{t}.parquet'}')"
        ).fetchone()
        with (out["csv"] / f"{t}.csv").open(newline="") as fh:
            n_csv = sum(1 for _ in csv.reader(fh)) - 1
        assert n_db == n_pq == n_csv > 0, (t, n_db, n_pq, n_csv)


def test_ground_truth_covers_every_record_and_nothing_else(db: duckdb.DuckDBPyConnection) -> None:
    keys = " UNION ".join(
        f"SELECT '{t}:' || {pk} AS k FROM raw.{t} WHERE {pk} IS NOT NULL" for t, pk in PK.items()
    )
    (total, distinct) = q(db, f"SELECT count(*), count(DISTINCT record_key) FROM raw.{GROUND_TRUTH}")[0]
    assert total == distinct
    (missing,) = q(
        db,
        f"SELECT count(*) FROM ({keys}) WHERE k NOT IN (SELECT record_key FROM raw.{GROUND_TRUTH})",
    )[0]
    (extra,) = q(
        db,
        f"SELECT count(*) FROM raw.{GROUND_TRUTH} WHERE record_key NOT IN (SELECT k FROM ({keys}))",
    )[0]
    assert (missing, extra) == (0, 0)
    (persons,) = q(db, f"SELECT count(DISTINCT person_id) FROM raw.{GROUND_TRUTH}")[0]
    assert persons == N
    # Rows with no primary key exist (for quarantine) and are the only rows left out.
    for t, pk in PK.items():
        (null_pk,) = q(db, f"SELECT count(*) FROM raw.{t} WHERE {pk} IS NULL")[0]
        (rows, keyed) = q(db, f"SELECT count(*), count(DISTINCT {pk}) FROM raw.{t}")[0]
        assert keyed <= rows - null_pk


def test_key_prefixes(db: duckdb.DuckDBPyConnection) -> None:
    for t, prefix in KEY_PREFIX.items():
        (bad,) = q(db, f"SELECT count(*) FROM raw.{t} WHERE {PK[t]} NOT LIKE '{prefix}%'")[0]
        assert bad == 0, t
    (bad,) = q(
        db,
        "SELECT count(*) FROM raw.web_events WHERE NOT regexp_full_match("
        "message_id, '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
        "[0-9a-f]{12}')",
    )[0]
    assert bad == 0


def test_people_span_one_to_five_systems(db: duckdb.DuckDBPyConnection) -> None:
    rows = dict(
        q(
            db,
            f"""
        SELECT n, count(*) FROM (
          SELECT person_id, count(DISTINCT CASE split_part(record_key, ':', 1)
              WHEN 'shop_orders' THEN 'shop_customers' ELSE split_part(record_key, ':', 1) END) n
          FROM raw.{GROUND_TRUTH}
          WHERE split_part(record_key, ':', 1) NOT IN ('consent_events', 'deletion_requests')
          GROUP BY 1) GROUP BY 1""",
        )
    )
    assert set(rows) <= {1, 2, 3, 4, 5}
    assert rows[1] > N * 0.1 and rows.get(4, 0) > 0


def test_email_mess_present(db: duckdb.DuckDBPyConnection) -> None:
    emails = (
        "SELECT email FROM raw.crm_contacts UNION ALL SELECT email FROM raw.shop_orders "
        "UNION ALL SELECT email FROM raw.newsletter_signups"
    )
    (upper, spaced, mailto, invalid) = q(
        db,
        f"""
        SELECT count(*) FILTER (WHERE email <> lower(email)),
               count(*) FILTER (WHERE email <> trim(email)),
               count(*) FILTER (WHERE email LIKE 'mailto:%'),
               count(*) FILTER (WHERE NOT regexp_matches(email, '@[^@]+\\.[a-z]+$'))
        FROM ({emails})""",
    )[0]
    assert upper > 0 and spaced > 0 and mailto > 0 and invalid > 0


def test_junk_identifiers_shared_by_unrelated_people(db: duckdb.DuckDBPyConnection) -> None:
    (people,) = q(
        db,
        f"""
        SELECT count(DISTINCT g.person_id) FROM raw.crm_contacts c
        JOIN raw.{GROUND_TRUTH} g ON g.record_key = 'crm_contacts:' || c.contact_id
        WHERE lower(trim(c.email)) IN ('test@test.com', 'noreply@example.com', 'n/a', 'none')
           OR c.phone IN ('0000000000', 'n/a', 'none', '123456789')""",
    )[0]
    assert people >= 3


def test_guest_orders_and_totals(db: duckdb.DuckDBPyConnection) -> None:
    (guests, no_email) = q(
        db,
        "SELECT count(*), count(*) FILTER (WHERE email IS NULL) "
        "FROM raw.shop_orders WHERE customer_id IS NULL",
    )[0]
    assert guests > 0 and no_email == 0
    assert {r[0] for r in q(db, "SELECT DISTINCT status FROM raw.shop_orders")} == {
        "paid",
        "refunded",
        "cancelled",
        "pending",
    }
    for total, items in q(db, "SELECT total_price, line_items FROM raw.shop_orders"):
        parsed = json.loads(items)
        assert parsed and all(set(i) == {"sku", "category", "quantity", "price"} for i in parsed)
        cents = sum(round(i["price"] * 100) * i["quantity"] for i in parsed)
        assert cents == round(float(total) * 100)


def test_anonymous_sessions_later_identify(db: duckdb.DuckDBPyConnection) -> None:
    (linked,) = q(
        db,
        """
        WITH ident AS (SELECT anonymous_id, user_id, received_at FROM raw.web_events
                       WHERE type = 'identify' AND user_id IS NOT NULL
                         AND anonymous_id IS NOT NULL)
        SELECT count(DISTINCT i.anonymous_id) FROM ident i JOIN raw.web_events e
          ON e.anonymous_id = i.anonymous_id AND e.user_id IS NULL
         AND e.type <> 'identify' AND e.received_at < i.received_at""",
    )[0]
    assert linked > 0
    (dupes,) = q(
        db,
        "SELECT count(*) FROM (SELECT message_id FROM raw.web_events "
        "WHERE message_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1)",
    )[0]
    assert dupes > 0


def test_same_key_landed_twice_newer_wins(db: duckdb.DuckDBPyConnection) -> None:
    (n,) = q(
        db,
        """
        SELECT count(*) FROM (
          SELECT contact_id, min(_loaded_at) lo, max(_loaded_at) hi FROM raw.crm_contacts
          WHERE contact_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) WHERE lo < hi""",
    )[0]
    assert n > 0


def test_same_person_twice_in_crm(db: duckdb.DuckDBPyConnection) -> None:
    (n,) = q(
        db,
        f"""SELECT count(*) FROM (SELECT person_id FROM raw.{GROUND_TRUTH}
                     WHERE record_key LIKE 'crm_contacts:%' GROUP BY 1 HAVING count(*) > 1)""",
    )[0]
    assert n > 0


def test_formats_are_mixed(db: duckdb.DuckDBPyConnection) -> None:
    shapes = {
        r[0]
        for r in q(
            db,
            "SELECT DISTINCT regexp_replace(created_at, '[0-9]', 'd', 'g') FROM raw.crm_contacts",
        )
    }
    assert {"dddd-dd-ddTdd:dd:ddZ", "dddd-dd-dd dd:dd:dd", "dddddddddd"} <= shapes
    bools = {r[0] for r in q(db, "SELECT DISTINCT opted_in FROM raw.newsletter_signups")}
    assert {"true", "1", "yes"} & bools and len(bools) >= 4
    countries = {r[0] for r in q(db, "SELECT DISTINCT country FROM raw.crm_contacts")}
    assert {"US", "USA"} <= countries


def test_commerce_stories(db: duckdb.DuckDBPyConnection) -> None:
    day_ago = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    # Cart abandoners: Product Added in the last 24 h by a known user with no order since.
    (abandoners,) = q(
        db,
        f"""
        SELECT count(DISTINCT g.person_id) FROM raw.web_events e
        JOIN raw.{GROUND_TRUTH} g ON g.record_key = 'web_events:' || e.message_id
        WHERE e.event = 'Product Added' AND e.received_at >= '{day_ago}'
          AND e.user_id IS NOT NULL
          AND g.person_id NOT IN (
            SELECT g2.person_id FROM raw.shop_orders o
            JOIN raw.{GROUND_TRUTH} g2 ON g2.record_key = 'shop_orders:' || o.order_id
            WHERE o.order_id IS NOT NULL AND o.created_at >= '{day_ago[:10]}')""",
    )[0]
    assert abandoners > 0
    # Lapsed customers: ordered, but not in the last 90 days.
    (lapsed,) = q(
        db,
        f"""
        SELECT count(*) FROM (
          SELECT g.person_id, max(o._loaded_at) last FROM raw.shop_orders o
          JOIN raw.{GROUND_TRUTH} g ON g.record_key = 'shop_orders:' || o.order_id
          GROUP BY 1) WHERE last < TIMESTAMP '{(NOW - timedelta(days=91)):%Y-%m-%d}'""",
    )[0]
    assert lapsed > 0
    # Newsletter subscribers who never purchased.
    (never,) = q(
        db,
        f"""
        SELECT count(DISTINCT person_id) FROM raw.{GROUND_TRUTH}
        WHERE record_key LIKE 'newsletter_signups:%' AND person_id NOT IN (
          SELECT person_id FROM raw.{GROUND_TRUTH} WHERE record_key LIKE 'shop_orders:%')""",
    )[0]
    assert never > 0


def test_seeds_yml_types_every_column() -> None:
    spec = yaml.safe_load((ROOT / "seeds" / "_raw_seeds.yml").read_text())
    assert spec["version"] == 2
    seeds = {s["name"]: s for s in spec["seeds"]}
    assert set(seeds) == set(ALL)
    for t in ALL:
        types = seeds[t]["config"]["column_types"]
        assert tuple(types) == columns(t), t
        for c, typ in types.items():
            assert typ == ("timestamp" if c == "_loaded_at" else "varchar"), (t, c)
    assert "EVALUATION ONLY" in seeds[GROUND_TRUTH]["description"]


def test_committed_seeds_are_reproducible(tmp_path: Path) -> None:
    """seeds/*.csv are exactly `--people 300 --seed 42 --format csv` output."""
    fresh = _run("csv", tmp_path / "seeds", people=300, seed=42)
    for t in ALL:
        assert (fresh / f"{t}.csv").read_bytes() == (ROOT / "seeds" / f"{t}.csv").read_bytes(), t
