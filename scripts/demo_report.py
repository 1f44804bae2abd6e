"""Print what the demo build produced: row accounting, customers, audiences. No personal data."""

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

        audiences = connection.sql(
            "select table_name from information_schema.tables where table_schema = 'audiences' order by 1"
        ).fetchall()
        sizes = Table(title="\nAudiences")
        sizes.add_column("audience")
        sizes.add_column("members", justify="right")
        for (name,) in audiences:
            count = connection.sql(f'select count(*) from audiences."{name}"').fetchall()[0][0]
            sizes.add_row(name, str(count))
        console.print(sizes)
        if _relation_exists(connection, "marts", "erased_customers"):
            erased = connection.sql("select count(*) from marts.erased_customers").fetchall()[0][0]
            console.print(f"Erased customers (tombstones): {erased}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "warehouse/cdp.duckdb")
