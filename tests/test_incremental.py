"""The incremental staging models and facts give the full refresh's result: a copy of the built
warehouse gets new raw rows (new events on known devices and users, a redelivery of an event
already staged, a new version of an order with fewer line items, a deletion request for someone
with events), is built incrementally, and every incremental table is compared row for row with a
`--full-refresh` build of the same raw data."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import built_copy, execute, query, run_dbt

INCREMENTAL_TABLES = (
    "staging.stg_web__events",
    "staging.stg_shop__orders",
    "staging.stg_shop__order_lines",
    "marts.fct_events",
    "marts.fct_orders",
    # a table built on two of them, as a check of what consumers see
    "marts.fct_order_lines",
)


def _land_new_raw_rows(database: Path) -> dict[str, str]:
    """Append realistic new data, loaded after everything already there. Returns the ids the
    checks look for (no personal data)."""
    erased_user = query(
        database,
        """select min(app_user_id) from marts.fct_events
           where customer_id is not null and app_user_id is not null""",
    )[0][0]
    order_id = query(
        database,
        """select min(order_id) from staging.stg_shop__order_lines
           group by order_id having count(*) > 1 order by 1 limit 1""",
    )[0][0]
    execute(
        database,
        f"""
        create temporary table watermark as
            select max(_loaded_at) + interval 1 hour as loaded_at from raw.web_events;
        -- new events of known devices and users (and so of known customers)
        insert into raw.web_events
            select * replace (message_id || '-incr' as message_id, (select loaded_at from watermark) as _loaded_at)
            from raw.web_events
            where message_id is not null
            order by message_id
            limit 40;
        -- Segment redelivers an event already staged: the first delivery stays
        insert into raw.web_events
            select * replace ((select loaded_at from watermark) as _loaded_at)
            from raw.web_events
            where message_id in (select message_id from staging.stg_web__events order by message_id limit 3);
        -- a new version of an order: refunded, one line left
        insert into raw.shop_orders
            select * replace (
                'refunded' as status,
                '[{{"sku":"INCR-1","category":"test","quantity":1,"price":1.5}}]' as line_items,
                '2026-10-31T23:00:00Z' as updated_at,
                (select loaded_at from watermark) as _loaded_at
            )
            from raw.shop_orders
            where order_id = '{order_id}'
            order by _loaded_at desc
            limit 1;
        -- a deletion request for someone with events
        insert into raw.deletion_requests (request_id, user_id, requested_at, status, _loaded_at)
            values ('D-INCR-0001', '{erased_user}', '2026-11-01T08:00:00Z', 'pending',
                    (select loaded_at from watermark));
        """,
    )
    return {"erased_user": erased_user, "order_id": order_id}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    directory = tmp_path_factory.mktemp("incremental")
    incremental = built_copy(directory)
    landed = _land_new_raw_rows(incremental)
    full = directory / "full_refresh.duckdb"
    shutil.copy(incremental, full)
    run_dbt(incremental, "run")
    run_dbt(full, "run", "--full-refresh")
    return incremental, full, landed


@pytest.mark.parametrize("relation", INCREMENTAL_TABLES)
def test_incremental_equals_full_refresh(builds: tuple[Path, Path, dict[str, str]], relation: str) -> None:
    incremental, full, _ = builds
    with duckdb.connect(str(incremental), read_only=True) as connection:
        connection.execute(f"attach '{full}' as full_refresh (read_only)")
        other = f"full_refresh.{relation}"
        differences = connection.sql(
            f"""select
                    (select count(*) from (select * from {relation} except all select * from {other})),
                    (select count(*) from (select * from {other} except all select * from {relation})),
                    (select count(*) from {other})"""
        ).fetchall()[0]
    assert differences[:2] == (0, 0), f"{relation}: {differences} (incremental only, full refresh only, rows)"
    assert differences[2] > 0


def test_the_new_data_reached_the_incremental_tables(builds: tuple[Path, Path, dict[str, str]]) -> None:
    """Guards the comparison: the incremental run did see each kind of change."""
    incremental, _, landed = builds
    assert (
        query(incremental, "select count(*) from staging.stg_web__events where message_id like '%-incr'")[0][
            0
        ]
        > 0
    )
    assert query(
        incremental,
        f"select order_status from staging.stg_shop__orders where order_id = '{landed['order_id']}'",
    ) == [("refunded",)]
    assert query(
        incremental, f"select sku from staging.stg_shop__order_lines where order_id = '{landed['order_id']}'"
    ) == [("INCR-1",)]
    assert (
        query(
            incremental,
            f"select count(*) from staging.stg_web__events where app_user_id = '{landed['erased_user']}'",
        )[0][0]
        == 0
    )
    assert (
        query(incremental, "select count(*) from marts.erased_customers where request_id = 'D-INCR-0001'")[0][
            0
        ]
        > 0
    )
