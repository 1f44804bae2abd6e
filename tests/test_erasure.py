"""Erasure, end to end: a deletion request naming one identifier of a demo customer
removes every trace of them from every model, audience and snapshot, puts their old
customer_id on the tombstone, and a further rebuild (even with --full-refresh) does
not bring them back.

One warehouse is built once for the module (a copy of `make test`'s warehouse when
CDP_TEST_DB is set), three people are erased in the same rebuild - one by email, one
by phone, one by app user id - and every test reads that result. Every column of
every table and view outside `raw` is scanned as text for their email, phone
(digits) and name.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import execute, query, run_dbt

# Views that only select from the raw landing tables hold nothing of their own:
# deleting raw rows is the loader's job, not the warehouse's (see the report).
RAW_PASSTHROUGH_VIEW_PREFIX = "base_"
# `dbt build` without seeds (they would reload raw and drop the test's request) or tests
MODELS_AND_SNAPSHOTS = (
    "--exclude-resource-type",
    "seed",
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
)


@dataclass(frozen=True)
class Person:
    label: str
    request_by: str  # email | phone | app_user_id
    customer_id: str
    email: str
    phone: str
    first_name: str
    last_name: str
    request_value: str


@dataclass
class Erasure:
    database: Path
    people: list[Person]
    before: dict[str, list[tuple[str, str]]]
    after: dict[str, list[tuple[str, str]]]
    after_rebuild: dict[str, list[tuple[str, str]]]
    snapshot_rows_before: dict[str, int]
    tombstone_after: dict[str, tuple]
    tombstone_after_rebuild: dict[str, tuple]


def _initial_warehouse(directory: Path) -> Path:
    database = directory / "erasure.duckdb"
    shared = os.environ.get("CDP_TEST_DB")
    if shared and Path(shared).exists():
        shutil.copy(shared, database)
    else:
        run_dbt(database, "seed")
        run_dbt(database, "build", *MODELS_AND_SNAPSHOTS)
    return database


_CANDIDATES = """
with
    named as (
        select * from marts.dim_customers
        where email is not null and phone is not null and first_name is not null and last_name is not null
    ),
    -- a name several customers share would be found on the others after the erasure
    unique_names as (
        select lower(first_name) as f, lower(last_name) as l from marts.dim_customers
        group by 1, 2 having count(*) = 1
    ),
    -- records attached to the customer by a Splink match only (no deterministic edge)
    splink_only as (
        select r.customer_id, count(*) as records
        from marts.dim_customer_records r
        where not exists (
            select 1 from marts.fct_identity_edges e
            where e.decision = 'accepted' and e.edge_kind <> 'splink'
              and r.record_key in (e.left_record_key, e.right_record_key)
        )
        and exists (
            select 1 from marts.fct_identity_edges e
            where e.decision = 'accepted' and e.edge_kind = 'splink'
              and r.record_key in (e.left_record_key, e.right_record_key)
        )
        group by 1
    ),
    app_users as (
        select customer_id, min(identifier_value) as app_user_id
        from marts.dim_customer_identifiers where identifier_type = 'app_user_id'
        group by 1 having count(*) = 1
    ),
    audiences as (select customer_id, count(*) as audiences from marts.audience_membership group by 1)
select
    named.customer_id, named.email, named.phone, named.first_name, named.last_name,
    coalesce(splink_only.records, 0) as splink_only_records,
    app_users.app_user_id,
    coalesce(audiences.audiences, 0) as audiences,
    named.source_count, named.record_count
from named
join unique_names on unique_names.f = lower(named.first_name) and unique_names.l = lower(named.last_name)
left join splink_only using (customer_id)
left join app_users using (customer_id)
left join audiences using (customer_id)
order by audiences > 0 desc, named.source_count desc, named.record_count desc, named.customer_id
"""


def _pick_people(database: Path) -> list[Person]:
    """Three different customers, each with email, phone and a unique name, preferring
    people in an audience with records in many sources:
    - by email: a customer resolved by deterministic identifiers only;
    - by phone: a customer one of whose records is linked by a Splink match only
      (the request's identifier cannot reach it; the resolved customer must still go);
    - by app user id: another deterministic customer with exactly one app account.
    """
    rows = query(database, _CANDIDATES)
    chosen: list[Person] = []
    taken: set[str] = set()

    def take(label: str, by: str, predicate) -> None:
        for cid, email, phone, first, last, splink_only, app_user_id, _, _, _ in rows:
            if cid in taken or not predicate(splink_only, app_user_id):
                continue
            value = {"email": email, "phone": phone, "app_user_id": app_user_id}[by]
            chosen.append(Person(label, by, cid, email, phone, first, last, value))
            taken.add(cid)
            return
        pytest.fail(f"no demo customer fits the '{label}' case")

    take("email, deterministic", "email", lambda s, a: s == 0)
    take("phone, splink-linked record", "phone", lambda s, a: s > 0)
    take("app user id", "app_user_id", lambda s, a: s == 0 and a is not None)
    return chosen


def _relations(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return connection.sql(
        """select table_schema, table_name, table_type from information_schema.tables
           where table_catalog = current_database() and table_schema <> 'raw'
           order by 1, 2"""
    ).fetchall()


def _scan(database: Path, people: list[Person]) -> dict[str, list[tuple[str, str]]]:
    """Per person, every relation outside raw where their email, phone or name still
    appears: email anywhere in a text value, phone as a run of its last 9 digits in any
    value, first and last name as two values of one row or as 'first last' in a value.
    One pass over each relation for all people."""
    hits: dict[str, list[tuple[str, str]]] = {p.customer_id: [] for p in people}
    with duckdb.connect(str(database), read_only=True) as connection:
        for schema, name, kind in _relations(connection):
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchall()
            ]
            texts = [f'lower(cast("{c}" as varchar))' for c in columns]

            def any_of(template: str, texts=texts) -> str:
                return "(" + " or ".join(template.format(t) for t in texts) + ")"

            filters, params = [], {}
            for n, person in enumerate(people):
                params |= {
                    f"email{n}": person.email.lower(),
                    f"digits{n}": "".join(ch for ch in person.phone if ch.isdigit())[-9:],
                    f"first{n}": person.first_name.lower(),
                    f"last{n}": person.last_name.lower(),
                    f"full{n}": f"{person.first_name} {person.last_name}".lower(),
                }
                filters += [
                    any_of(f"contains({{}}, $email{n})"),
                    any_of(f"contains(regexp_replace({{}}, '[^0-9]', '', 'g'), $digits{n})"),
                    f"({any_of(f'trim({{}}) = $first{n}')} and {any_of(f'trim({{}}) = $last{n}')})"
                    f" or {any_of(f'contains({{}}, $full{n})')}",
                ]
            counts = connection.execute(
                "select "
                + ", ".join(f"count(*) filter (where {f})" for f in filters)
                + f' from "{schema}"."{name}"',
                params,
            ).fetchone()
            for n, person in enumerate(people):
                for what, count in zip(("email", "phone", "name"), counts[3 * n : 3 * n + 3], strict=True):
                    if count:
                        hits[person.customer_id].append((f"{schema}.{name} ({kind.lower()})", what))
    return hits


def _is_raw_passthrough(database: Path, relation: str) -> bool:
    schema_name, kind = relation.split(" ", 1)
    schema, name = schema_name.split(".")
    if kind != "(view)" or schema != "staging" or not name.startswith(RAW_PASSTHROUGH_VIEW_PREFIX):
        return False
    sql = query(
        database, f"select sql from duckdb_views() where schema_name = 'staging' and view_name = '{name}'"
    )
    return bool(sql) and '"raw".' in sql[0][0].replace("raw.", '"raw".')


def _tombstone(database: Path, people: list[Person]) -> dict[str, tuple]:
    rows = query(database, "select customer_id, erased_at, request_id from marts.erased_customers")
    by_id = {row[0]: row for row in rows}
    return {p.customer_id: by_id.get(p.customer_id) for p in people}


def _snapshot_rows(database: Path, customer_id: str) -> int:
    return sum(
        query(database, f"select count(*) from snapshots.{snapshot} where customer_id = '{customer_id}'")[0][
            0
        ]
        for snapshot in ("dim_customers_snapshot", "audience_membership_snapshot")
    )


@pytest.fixture(scope="module")
def erasure(tmp_path_factory: pytest.TempPathFactory) -> Erasure:
    database = _initial_warehouse(tmp_path_factory.mktemp("erasure"))
    people = _pick_people(database)
    before = _scan(database, people)
    snapshot_rows_before = {p.customer_id: _snapshot_rows(database, p.customer_id) for p in people}

    columns = {"email": "email", "phone": "phone", "app_user_id": "user_id"}
    for number, person in enumerate(people, start=1):
        execute(
            database,
            f"""insert into raw.deletion_requests (request_id, {columns[person.request_by]}, requested_at, status,
                    _loaded_at)
                values ('D-TEST-{number:04d}', '{person.request_value}', '2026-10-31T09:00:00Z', 'pending',
                    timestamp '2026-10-31 09:05:00')""",
        )

    # the erasure build: models and snapshots, then the erasure checks dbt itself runs
    run_dbt(database, "build", *MODELS_AND_SNAPSHOTS)
    run_dbt(database, "test", "--select", "erased_customers", "assert_erased_customers_absent")
    after = _scan(database, people)
    tombstone_after = _tombstone(database, people)

    # a further rebuild, full refresh included, must not bring anybody back
    run_dbt(database, "build", "--full-refresh", *MODELS_AND_SNAPSHOTS)
    after_rebuild = _scan(database, people)
    tombstone_after_rebuild = _tombstone(database, people)

    return Erasure(
        database,
        people,
        before,
        after,
        after_rebuild,
        snapshot_rows_before,
        tombstone_after,
        tombstone_after_rebuild,
    )


@pytest.fixture(params=range(3), ids=["by email", "by phone (splink-linked record)", "by app user id"])
def person(request: pytest.FixtureRequest, erasure: Erasure) -> Person:
    return erasure.people[request.param]


def test_the_scan_sees_the_person_before_the_erasure(erasure: Erasure, person: Person) -> None:
    """Guards the test itself: before the request, the scan finds all three kinds of
    personal data in the golden record, the profile and the golden-record snapshot."""
    relations = {relation.split(" ")[0]: set() for relation, _ in erasure.before[person.customer_id]}
    for relation, what in erasure.before[person.customer_id]:
        relations[relation.split(" ")[0]].add(what)
    for relation in ("marts.dim_customers", "marts.customer_profiles", "snapshots.dim_customers_snapshot"):
        assert relations.get(relation) == {"email", "phone", "name"}, (relation, relations.get(relation))
    assert erasure.snapshot_rows_before[person.customer_id] > 0


def test_no_personal_data_is_left_anywhere(erasure: Erasure, person: Person) -> None:
    left = [
        hit for hit in erasure.after[person.customer_id] if not _is_raw_passthrough(erasure.database, hit[0])
    ]
    assert left == [], f"{person.label}: personal data still in {left}"


def test_only_raw_passthrough_views_still_show_raw_rows(erasure: Erasure, person: Person) -> None:
    """The raw landing tables keep the rows until the loader deletes them; the base views
    over them are the only relations allowed to show them, and they hold no data."""
    exempt = {
        relation
        for relation, _ in erasure.after[person.customer_id]
        if _is_raw_passthrough(erasure.database, relation)
    }
    assert all(relation.startswith("staging.base_") for relation in exempt)


def test_tombstone_holds_the_old_customer_id_and_no_personal_data(erasure: Erasure, person: Person) -> None:
    row = erasure.tombstone_after[person.customer_id]
    assert row is not None, f"{person.customer_id} is not on the tombstone"
    assert row[2].startswith("D-TEST-")
    columns = {
        r[0]
        for r in query(
            erasure.database,
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'erased_customers'",
        )
    }
    assert columns == {"customer_id", "erased_at", "request_id", "requested_at"}


def test_snapshots_and_customer_models_no_longer_know_the_customer(erasure: Erasure, person: Person) -> None:
    assert _snapshot_rows(erasure.database, person.customer_id) == 0
    for relation in (
        "marts.dim_customers",
        "marts.customer_traits",
        "marts.customer_profiles",
        "marts.customer_consent",
        "marts.audience_membership",
        "marts.audience_membership_history",
        "marts.fct_orders",
        "marts.fct_events",
    ):
        count = query(
            erasure.database, f"select count(*) from {relation} where customer_id = '{person.customer_id}'"
        )
        assert count[0][0] == 0, relation


def test_a_further_rebuild_does_not_recreate_them(erasure: Erasure, person: Person) -> None:
    left = [
        hit
        for hit in erasure.after_rebuild[person.customer_id]
        if not _is_raw_passthrough(erasure.database, hit[0])
    ]
    assert left == [], f"{person.label}: back after a rebuild in {left}"
    assert erasure.tombstone_after_rebuild[person.customer_id] == erasure.tombstone_after[person.customer_id]
