"""The normalisation macros read text the same way on both targets: the Snowflake variants of
parse_timestamp and parse_date (regular expressions and fixed formats, since Snowflake has no
try_strptime and detects formats its own way) against DuckDB's originals, on every layout the
contract names, the garbage the generator emits, and edge cases of DuckDB's own parser."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.snowflake.conftest import FakeSnowflake, dbt_in_parallel

TIMESTAMPS = [
    # what the sources send (see docs/demo-data.md)
    "2025-10-19T07:05:30.157Z", "2024-12-01T18:03:52Z", "2025-01-31T03:34:06-07:00", "2025-01-21 16:27:11",
    "2025-07-10T16:41:12+02:00", "1742639913", "1742639913123", "123456789",
    "N/A", "0000-00-00 00:00:00", "not a date", "2025-13-45T25:61:00Z", "#VALUE!", "yesterday", "", "  ",
    # DuckDB's timestamptz cast
    "2024-01-02", "2024-1-2", "2024-01-02 03:04", "2024-01-02 3:04:05", "2024-01-02 03:4", "2024-01-02 03:04:5",
    "2024-01-02T03:04:05.1234567Z", "2024-01-02 03:04:05.5", "2024-01-02 03:04:05.", "2024-01-02 03:04:05+02",
    "2024-01-02 03:04:05+0230", "2024-01-02 03:04:05-07", "2024-01-02 03:04:05+02:30:00", "2024-01-02 03:04:05.123+02",
    "2024-01-02 03:04:05 UTC", "2024-01-02 03:04:05 utc", "2024-01-02 03:04:05 GMT", "2024-01-02 03:04:05.123 UTC",
    "2024-01-02  03:04:05", "2024-01-02T 03:04:05", "2024/01/02T03:04:05Z", "2024 01 02", "2024 1 2 03:04",
    "1/2/24", "12/1/24", "1-2-3", "99-12-31", "2024-01-02 24:00:00", "2024-01-02T24:00:00Z",
    # what DuckDB rejects, so must Snowflake
    "2024-01-02 24:00:01", "2024-01-02 03:04:05 +02:00", "2024-01-02T03:04:05z", "2024-01-02Z", "2024-01-02 03",
    "2024-01/02", "2024-01-02 03:04:05-0", "12345678901", "2023-02-30 00:00:00",
    # the strptime fallbacks
    "1/2/2024", "1/2/2024 3:4:5", "1/2/2024 3:04", "13/01/2024 10:00:00", "31.12.2024 23:59", "31.12.2024 23:59:58",
    "2024/1/2 3:4:5", "2/29/2023", "2/29/2024", "10/13/1973", "9.9.1974", "12/34/56",
]  # fmt: skip
DATES = [
    "1985-03-07", "03/07/1985", "7.3.1985", "18.10.1987", "1985/03/07", "March 7, 1985", "march 7, 85", "Mar 7, 1985",
    "MAR 7, 1985", "7 March 1985", "07 march 1985", "7 Mar 1985", "19850307", "1985037", "1985123", "19851", "198512",
    "2023-02-29", "2024-02-29", "00/00/0000", "0000-00-00", "31/31/1999", "12/34/56", "unknown", "-", "n/a",
    "Sept 7, 1985", "March 7,  1985", "March  7, 1985", "1985-3-7", "October 18, 1987", "",
]  # fmt: skip
# DuckDB's cast also reads time-zone names through ICU; the Snowflake grammar does not (null there)
KNOWN_DIFFERENCES = {"2024-01-02 03:04:05 America/New_York"}


def _rows(output: str) -> list[dict]:
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        preview = event.get("data", {}).get("preview")
        if preview:
            return [{k.lower(): v for k, v in row.items()} for row in json.loads(preview)]
    raise AssertionError(f"no rows in dbt show output:\n{output[-2000:]}")


def test_parse_timestamp_and_parse_date_agree(fakesnow_server: FakeSnowflake, tmp_path: Path) -> None:
    values = list(dict.fromkeys([*TIMESTAMPS, *DATES, *KNOWN_DIFFERENCES]))
    rows = " union all ".join(
        "select {} as v, {} as k".format("'" + v.replace("'", "''") + "'", i) for i, v in enumerate(values)
    )
    # as text: fakesnow's wire format and DuckDB's agree on text, and nulls stay nulls
    sql = (
        "select k, v, cast({{ cdp.parse_timestamp('v') }} as {{ dbt.type_string() }}) as ts,"
        " cast({{ cdp.parse_date('v') }} as {{ dbt.type_string() }}) as d"
        f" from ({rows}) as t order by k"
    )
    env = fakesnow_server.env(CDP_DUCKDB_PATH=str(tmp_path / "macros.duckdb"))
    show = ["show", "--inline", sql, "--limit", "-1", "--output", "json", "--log-format", "json"]
    duck_out, snow_out = dbt_in_parallel(
        [
            ([*show, "--target", "duckdb"], env, tmp_path / "duckdb"),
            ([*show, "--target", "snowflake"], env, tmp_path / "snowflake"),
        ]
    )
    duck = {r["k"]: _normalized(r) for r in _rows(duck_out)}
    snow = {r["k"]: _normalized(r) for r in _rows(snow_out)}
    assert len(duck) == len(values) == len(snow)
    parsed = sum(1 for ts, d in duck.values() if ts or d)
    assert parsed > 60, "most cases must parse, or the comparison proves little"
    differing = [(values[k], duck[k], snow[k]) for k in duck if duck[k] != snow[k]]
    assert {v for v, _, _ in differing} == KNOWN_DIFFERENCES, differing


def _normalized(row: dict) -> tuple:
    ts = dt.datetime.fromisoformat(row["ts"]) if row["ts"] else None
    d = dt.date.fromisoformat(row["d"]) if row["d"] else None
    return ts, d
