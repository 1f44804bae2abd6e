"""Print what the demo build produced: row accounting, customers, audiences, erasure.

Counts only: no email, name or any other personal data is printed.
"""

from __future__ import annotations

import sys

import duckdb
from rich.console import Console
from rich.table import Table


def _relation_exists(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def _audience_meta(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """channel and previous size per audience, from the marts when they exist."""
    meta: dict[str, tuple[str, str]] = {}
    channels = {}
    if _relation_exists(connection, "marts", "audience_membership"):
        channels = dict(
            connection.sql(
                "select audience_name, max(channel) from marts.audience_membership group by 1"
            ).fetchall()
        )
    previous = {}
    if _relation_exists(connection, "marts", "audience_size_changes"):
        previous = dict(
            connection.sql(
                "select audience_name, previous_audience_size from marts.audience_size_changes"
            ).fetchall()
        )
    for name in set(channels) | set(previous):
        before = previous.get(name)
        meta[name] = (channels.get(name) or "", "-" if before is None else str(before))
    return meta


def main(path: str) -> None:
    console = Console()
    with duckdb.connect(path, read_only=True) as connection:
        accounting = Table(title="Raw rows -> staging")
        for column in ("source table", "raw", "staged", "superseded", "quarantined", "erased", "unaccounted"):
            accounting.add_column(column, justify="right" if column != "source table" else "left")
        for row in connection.sql("select * from staging.stg_audit__row_accounting order by 1").fetchall():
            accounting.add_row(*(str(value) for value in row))
        console.print(accounting)

        records, customers = connection.sql(
            "select count(*), count(distinct customer_id) from marts.dim_customer_records"
        ).fetchall()[0]
        edges = connection.sql(
            "select decision, edge_kind, count(*) from marts.fct_identity_edges group by all order by 1, 2"
        ).fetchall()
        console.print(f"\n[bold]{customers}[/] unified customers from [bold]{records}[/] person records")
        for decision, kind, count in edges:
            console.print(f"  {decision:<9} {kind:<17} {count:>6} edges")

        if _relation_exists(connection, "marts", "customer_traits"):
            buyers, revenue, as_of = connection.sql(
                "select count(*) filter (where order_count > 0), sum(lifetime_value), max(traits_as_of)"
                " from marts.customer_traits"
            ).fetchall()[0]
            console.print(
                f"[bold]{buyers}[/] customers with a paid order, lifetime value {revenue or 0:,.2f} in total"
                f" (traits as of {as_of})"
            )

        audiences = connection.sql(
            "select table_name from information_schema.tables where table_schema = 'audiences' order by 1"
        ).fetchall()
        meta = _audience_meta(connection)
        sizes = Table(title="\nAudiences")
        sizes.add_column("audience")
        sizes.add_column("channel")
        sizes.add_column("members", justify="right")
        sizes.add_column("previous build", justify="right")
        for (name,) in audiences:
            count = connection.sql(f'select count(*) from audiences."{name}"').fetchall()[0][0]
            channel, previous = meta.get(name, ("", "-"))
            sizes.add_row(name, channel, str(count), previous)
        console.print(sizes)

        if _relation_exists(connection, "marts", "erased_customers"):
            requests = connection.sql(
                "select count(*) from staging.stg_privacy__deletion_requests"
            ).fetchall()[0][0]
            erased_rows = connection.sql(
                "select coalesce(sum(erased_rows), 0) from staging.stg_audit__row_accounting"
            ).fetchall()[0][0]
            tombstones = connection.sql("select count(*) from marts.erased_customers").fetchall()[0][0]
            console.print(
                f"Erasure: {requests} deletion requests, {erased_rows} raw rows kept out of staging, "
                f"{tombstones} customer ids on the tombstone (marts.erased_customers)"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "warehouse/cdp.duckdb")
