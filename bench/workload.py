"""The data the benchmark moves: a held-back 1 % delta, the synthetic sync audience
and the freshness cart event. Everything is plain SQL on the bench DuckDB file.

The delta is realistic because it is the generator's own output: ``hold_out``
takes every record of 1 % of the generated people out of ``raw`` (into schema
``bench_delta``) before the first build, together with new versions of 1 % of
the existing mutable records (a CRM contact who moved, a shop customer who
flipped their marketing consent, an app login, an order refunded).
``land_delta`` puts all of it back into ``raw`` with a later ``_loaded_at``, as a
loader would, for the incremental run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

# Primary key column of every raw table (the first column of the contract).
PRIMARY_KEYS = {
    "crm_contacts": "contact_id",
    "shop_customers": "customer_id",
    "shop_orders": "order_id",
    "app_users": "user_id",
    "web_events": "message_id",
    "newsletter_signups": "signup_id",
    "support_tickets": "ticket_id",
    "consent_events": "consent_id",
    "deletion_requests": "request_id",
}
DELTA_SCHEMA = "bench_delta"
AUDIENCE_SCHEMA = "bench_sync"
AUDIENCE_TABLE = f"{AUDIENCE_SCHEMA}.aud_synthetic"


def iso(ts: datetime) -> str:
    """Text timestamp as the sources land it (ISO-8601 UTC)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_ts(ts: datetime) -> str:
    return f"timestamp '{ts.strftime('%Y-%m-%d %H:%M:%S')}'"


def _bucket(expr: str, modulus: int, residue: int = 0) -> str:
    """A deterministic ~1/modulus sample of rows by a text key."""
    return f"(hash({expr}) % {modulus}) = {residue}"


# --- the 1 % delta ------------------------------------------------------------------------------


# New versions of existing records: (table, changed columns as SQL over the latest version).
def _changes(changed_at: str) -> dict[str, dict[str, str]]:
    return {
        # moved house within the same city
        "crm_contacts": {
            "street": "cast(100 + hash(contact_id) % 900 as varchar) || ' Market Street'",
            "updated_at": f"'{changed_at}'",
        },
        # flipped their marketing consent
        "shop_customers": {
            "accepts_email_marketing": (
                "case when lower(trim(coalesce(accepts_email_marketing, ''))) "
                "in ('true', '1', 'yes') then 'false' else 'true' end"
            ),
            "updated_at": f"'{changed_at}'",
        },
        # logged in again
        "app_users": {"last_login_at": f"'{changed_at}'"},
        # refunded
        "shop_orders": {"status": "'refunded'", "updated_at": f"'{changed_at}'"},
    }


def hold_out(con: duckdb.DuckDBPyConnection, fraction: float, changed_at: datetime) -> dict[str, Any]:
    """Move every raw record of ~``fraction`` of the people to ``bench_delta.new_*`` and
    prepare new versions of ~``fraction`` of the remaining mutable records
    (``bench_delta.changed_*``). Returns row counts."""
    modulus = max(2, round(1 / fraction))
    con.execute(f"drop schema if exists {DELTA_SCHEMA} cascade")
    con.execute(f"create schema {DELTA_SCHEMA}")
    # The ground truth names each keyed record's person; keyless rows (quarantine
    # material) stay in raw. person_id is P-<number>.
    con.execute(
        f"""create table {DELTA_SCHEMA}.held_records as
        select record_key from raw.demo_ground_truth
        where cast(regexp_extract(person_id, '[0-9]+') as bigint) % {modulus} = {modulus // 3}"""
    )
    counts: dict[str, Any] = {"new": {}, "changed": {}}
    for table, pk in PRIMARY_KEYS.items():
        held = (
            f"'{table}:' || {pk} in (select record_key from {DELTA_SCHEMA}.held_records "
            f"where record_key like '{table}:%')"
        )
        con.execute(f"create table {DELTA_SCHEMA}.new_{table} as select * from raw.{table} where {held}")
        con.execute(f"delete from raw.{table} where {pk} is not null and {held}")
        (n,) = con.execute(f"select count(*) from {DELTA_SCHEMA}.new_{table}").fetchall()[0]
        counts["new"][table] = n
    changed_text = iso(changed_at)
    for table, sets in _changes(changed_text).items():
        pk = PRIMARY_KEYS[table]
        columns = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        ]
        select = ", ".join(f"{sets[c]} as {c}" if c in sets else c for c in columns)
        extra = " and status = 'paid'" if table == "shop_orders" else ""
        con.execute(
            f"""create table {DELTA_SCHEMA}.changed_{table} as
            select {select} from (
                select * from raw.{table}
                where {pk} is not null and {_bucket(pk, modulus)}{extra}
                qualify row_number() over (partition by {pk} order by _loaded_at desc) = 1
            ) as latest"""
        )
        (n,) = con.execute(f"select count(*) from {DELTA_SCHEMA}.changed_{table}").fetchall()[0]
        counts["changed"][table] = n
    counts["new_rows"] = sum(counts["new"].values())
    counts["changed_rows"] = sum(counts["changed"].values())
    return counts


def land_delta(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> dict[str, int]:
    """Append the held-back records and the changed versions to raw, landed at ``loaded_at``."""
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [DELTA_SCHEMA],
        ).fetchall()
    }
    landed = 0
    for table in PRIMARY_KEYS:
        for prefix in ("new", "changed"):
            name = f"{prefix}_{table}"
            if name not in tables:
                continue
            con.execute(
                f"insert into raw.{table} select * replace ({sql_ts(loaded_at)} as _loaded_at) "
                f"from {DELTA_SCHEMA}.{name}"
            )
            (n,) = con.execute(f"select count(*) from {DELTA_SCHEMA}.{name}").fetchall()[0]
            landed += n
            con.execute(f"drop table {DELTA_SCHEMA}.{name}")
    return {"landed_rows": landed}


def raw_row_count(con: duckdb.DuckDBPyConnection) -> int:
    return sum(con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in PRIMARY_KEYS)


# --- the synthetic audience for the sync diff -----------------------------------------------------

AUDIENCE_COLUMNS = (
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "country_code",
    "lifetime_value",
    "order_count",
    "last_order_at",
    "email_marketing_consent",
)


def create_audience(con: duckdb.DuckDBPyConnection, rows: int, now: datetime) -> None:
    """An audience table of the real audiences' shape with ``rows`` customers."""
    con.execute(f"create schema if not exists {AUDIENCE_SCHEMA}")
    con.execute(
        f"""create or replace table {AUDIENCE_TABLE} as
        select
            'cus_' || substr(md5('bench-' || i), 1, 20) as customer_id,
            'customer' || i || '@example.com' as email,
            '+1555' || lpad(cast(i % 10000000 as varchar), 7, '0') as phone,
            ['Ava', 'Liam', 'Mia', 'Noah', 'Zoe', 'Ethan', 'Lena', 'Omar'][1 + i % 8] as first_name,
            ['Okafor', 'Novak', 'Tanaka', 'Silva', 'Müller', 'Dubois'][1 + i % 6] as last_name,
            ['US', 'GB', 'DE', 'FR', 'NL'][1 + i % 5] as country_code,
            cast(10 + (i * 7919) % 500000 / 100.0 as decimal(18, 2)) as lifetime_value,
            cast(1 + i % 30 as integer) as order_count,
            {sql_ts(now)} - to_minutes(cast(i % 525600 as bigint)) as last_order_at,
            i % 3 <> 0 as email_marketing_consent
        from range({rows}) as t(i)"""
    )


def change_audience(con: duckdb.DuckDBPyConnection, fraction: float) -> dict[str, int]:
    """Change ~``fraction`` of the audience: 80 % of it updated, 10 % left, 10 % joined."""
    (rows,) = con.execute(f"select count(*) from {AUDIENCE_TABLE}").fetchall()[0]
    changed = max(1, round(rows * fraction))
    updated, removed = round(changed * 0.8), round(changed * 0.1)
    added = max(0, changed - updated - removed)
    # Fixed positions (every k-th row) keep the change deterministic.
    con.execute(
        f"""update {AUDIENCE_TABLE} set lifetime_value = lifetime_value + 25,
               order_count = order_count + 1
        where customer_id in (select customer_id from {AUDIENCE_TABLE}
                              order by customer_id limit {updated})"""
    )
    con.execute(
        f"""delete from {AUDIENCE_TABLE}
        where customer_id in (select customer_id from {AUDIENCE_TABLE}
                              order by customer_id desc limit {removed})"""
    )
    con.execute(
        f"""insert into {AUDIENCE_TABLE}
        select 'cus_' || substr(md5('bench-new-' || i), 1, 20), 'new' || i || '@example.com',
            '+1666' || lpad(cast(i as varchar), 7, '0'), 'Ines', 'Moreau', 'FR',
            cast(99.5 as decimal(18, 2)), 1, current_timestamp::timestamp, true
        from range({added}) as t(i)"""
    )
    return {"add": added, "change": updated, "remove": removed}


# --- freshness: a cart event for existing customers ------------------------------------------------


def land_cart_events(
    con: duckdb.DuckDBPyConnection,
    candidates: list[tuple[str, str, str | None]],
    event_at: datetime,
    loaded_at: datetime,
) -> int:
    """Insert one Segment ``Product Added`` track call per (customer_id, user_id, anonymous_id)."""
    ts = event_at.strftime("%Y-%m-%dT%H:%M:%S.123Z")
    received = (event_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.456Z")
    for _, user_id, anonymous_id in candidates:
        con.execute(
            """insert into raw.web_events
               (message_id, type, event, anonymous_id, user_id, traits, properties, context,
                timestamp, received_at, _loaded_at)
            values (cast(uuid() as varchar), 'track', 'Product Added', ?, ?, null,
                '{"sku":"KNI-5407","category":"knitwear","price":189.00,"quantity":1}',
                '{"ip":"10.0.0.1","userAgent":"bench","page":{"url":"https://shop.example.com/products/kni-5407"}}',
                ?, ?, """
            + sql_ts(loaded_at)
            + ")",
            [anonymous_id, user_id, ts, received],
        )
    return len(candidates)
