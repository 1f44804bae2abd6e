"""Output targets. Generation always appends into DuckDB tables in schema `raw`; csv and
parquet are exported from a scratch DuckDB file at the end, so memory stays bounded by one
chunk whatever the format."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

from .contract import GROUND_TRUTH, TABLES, ddl

FORMATS = ("csv", "duckdb", "parquet")
ALL_TABLES: tuple[str, ...] = (*TABLES, GROUND_TRUTH)


class Target:
    def __init__(self, fmt: str, out: Path) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
        self.fmt = fmt
        self.out = out
        self._scratch: Path | None = None
        self.schema = "raw"

    def open(self) -> duckdb.DuckDBPyConnection:
        if self.fmt == "duckdb":
            self.out.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.out))
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=".cdp_datagen-", dir=self.out))
            con = duckdb.connect(str(self._scratch / "stage.duckdb"))
        # Row order is part of the output; keep DuckDB from reordering parallel inserts.
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        # Bounds DuckDB's buffer cache (peak RSS); a chunk's working set is far below it.
        con.execute("SET memory_limit = '3GB'")
        # Qualify with the catalog: a file called raw.duckdb makes a bare `raw` ambiguous.
        (catalog,) = con.execute("SELECT current_database()").fetchone()
        self.schema = '"' + str(catalog).replace('"', '""') + '".raw'
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        for t in ALL_TABLES:
            con.execute(ddl(t, self.schema))
        return con

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            if self.fmt == "csv":
                for t in ALL_TABLES:
                    dest = str(self.out / f"{t}.csv").replace("'", "''")
                    con.execute(
                        f"COPY {self.schema}.{t} TO '{dest}' (HEADER, DELIMITER ',', "
                        "QUOTE '\"', TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')"
                    )
            elif self.fmt == "parquet":
                for t in ALL_TABLES:
                    dest = str(self.out / f"{t}.parquet").replace("'", "''")
                    con.execute(f"COPY {self.schema}.{t} TO '{dest}' (FORMAT parquet, COMPRESSION zstd)")
            else:
                con.execute("CHECKPOINT")
        finally:
            con.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
