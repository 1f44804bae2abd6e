"""A fakesnow server on 127.0.0.1 for the Snowflake tests, run as its own process.

    python -m tests.snowflake.fakesnow_server [--port N]

Prints ``PORT <n>`` once the server accepts connections and serves until it
is terminated (SIGTERM/SIGINT) or its stdin closes. Data lives in memory only.

Two emulator bugs of fakesnow 0.12.1 are fixed here, in the emulator, so that
the project's SQL stays what real Snowflake needs:

* a NULL TIMESTAMP is sent as 1970-01-01 00:00:00 (its Arrow struct has no
  validity mask), which would make every missing timestamp look like the epoch
  to dbt, the tests and cdp-sync. Real Snowflake returns NULL.
* FLATTEN numbers array elements with ``row_number() over ()``, which DuckDB
  may evaluate in any order once a query runs on several threads: element 0
  could come back as index 2. Real Snowflake's INDEX is the array position.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import pyarrow as pa


def _patch_null_timestamps() -> None:
    import fakesnow.arrow as fs_arrow

    original = fs_arrow.timestamp_to_sf_struct
    if getattr(original, "_cdp_patched", False):
        return

    def timestamp_to_sf_struct(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = original(ts)
        if ts.null_count == 0:
            return struct
        return pa.StructArray.from_arrays(
            [struct.field(i) for i in range(struct.type.num_fields)],
            fields=list(struct.type),
            mask=ts.is_null(),
        )

    timestamp_to_sf_struct._cdp_patched = True  # type: ignore[attr-defined]
    fs_arrow.timestamp_to_sf_struct = timestamp_to_sf_struct


def _patch_flatten_index() -> None:
    from string import Template

    import fakesnow.macros as fs_macros

    text = fs_macros.FS_FLATTEN.template
    if "lambda x, i:" in text:
        return
    replacements = [
        ("'[' || (row_number() OVER () - 1) || ']'", "'[' || (e.i - 1) || ']'"),
        ("ELSE (row_number() OVER () - 1)::BIGINT END AS INDEX", "ELSE (e.i - 1)::BIGINT END AS INDEX"),
        (
            "lambda x: struct_pack(k := x, v := CAST(TO_JSON(input) -> x AS JSON))",
            "lambda x, i: struct_pack(k := x, v := CAST(TO_JSON(input) -> x AS JSON), i := i)",
        ),
        (
            "lambda x: struct_pack(k := NULL::VARCHAR, v := x)",
            "lambda x, i: struct_pack(k := NULL::VARCHAR, v := x, i := i)",
        ),
        ("AS e(k, v)", "AS e(k, v, i)"),
    ]
    for old, new in replacements:
        if old not in text:
            raise RuntimeError(f"fakesnow's FLATTEN macro changed; cannot patch {old!r}")
        text = text.replace(old, new)
    fs_macros.FS_FLATTEN = Template(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db-path", help="keep the databases in this directory (default: in memory)")
    parser.add_argument("--verbose", action="store_true", help="keep logging requests to stdout")
    args = parser.parse_args(argv)

    import faulthandler
    import logging

    import fakesnow

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: stacks on stderr

    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    _patch_null_timestamps()
    _patch_flatten_index()
    # the package's server() function: importing the module fakesnow.server
    # replaces the package attribute of the same name
    serve = fakesnow.server
    if args.db_path:
        import importlib

        from fakesnow.instance import FakeSnow

        importlib.import_module("fakesnow.server").shared_fs = FakeSnow(db_path=args.db_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin() -> None:
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    with serve(port=args.port or None, host="127.0.0.1") as kwargs:
        print(f"PORT {kwargs['port']}", flush=True)
        if not args.verbose:
            # uvicorn logs every request to stdout: once nobody reads the pipe it fills and the
            # server blocks in the middle of a query
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.dup2(devnull, sys.stderr.fileno())
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
