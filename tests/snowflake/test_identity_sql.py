"""The SQL identity engine (what runs on Snowflake) against the Python one (Splink and the
union-find), both on DuckDB, where each can be checked against the other exactly.

* the generated Splink models are those the committed model JSON produces;
* the SQL Jaro-Winkler reproduces DuckDB's jaro_winkler_similarity at every threshold;
* on the demo data the SQL engine gives bit-identical Splink scores and the same edge decisions,
  clusters and customer ids;
* with per-customer limits tight enough to drop edges, the SQL guard drops the same edges for the
  same reasons as the greedy union-find.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import PROJECT_DIR, RUN_AT, query
from tests.snowflake.compare import diff_rows
from tests.snowflake.conftest import dbt_in_parallel, duckdb_env

PINNED = {"cdp_run_at": RUN_AT}
IDENTITY = ["--select", "path:models/intermediate/identity", "path:models/marts/identity"]
# just what the guard decides: the edges and the clusters they make
GUARD = ["--select", "+int_identity__clusters,path:models/intermediate/identity"]
# settings of the var cdp_identity under which the guard drops many edges; the second also checks
# the order limits are reported in and Splink edges ranked as strong as emails
GUARD_SETTINGS = [
    {"max_per_customer": {"app_user_id": 1, "shop_customer_id": 1, "email": 1, "phone": 1}},
    {
        "max_per_customer": {"phone": 1, "email": 2, "shop_customer_id": 2, "app_user_id": 1},
        "priority": {"splink": 2},
    },
]


def test_generated_splink_models_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "generate_splink_sql.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- Jaro-Winkler ---------------------------------------------------------------------------


def _jaro_winkler_pairs() -> list[tuple[str, str]]:
    rng = random.Random(20261101)
    names = [
        line.split(",")[0]
        for line in (PROJECT_DIR / "seeds" / "reference" / "ref_name_variants.csv")
        .read_text()
        .splitlines()[1:]
    ]
    names += ["amélie", "léa", "müller", "krüger", "jürgen", "chloé", "zoë", "sébastien", "françois", "ß"]
    pairs = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.3:  # small alphabet: many repeated letters and transpositions
            a = "".join(rng.choice("abcde") for _ in range(rng.randint(1, 9)))
            b = "".join(rng.choice("abcde") for _ in range(rng.randint(1, 9)))
        elif kind < 0.55:
            a, b = rng.choice(names), rng.choice(names)
        else:  # a typo, a swap, a dropped or doubled letter, an accent
            a = rng.choice(names)
            chars = list(a)
            i = rng.randrange(len(chars))
            edit = rng.randrange(5)
            if edit == 0:
                chars[i] = rng.choice(string.ascii_lowercase)
            elif edit == 1 and i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            elif edit == 2 and len(chars) > 1:
                del chars[i]
            elif edit == 3:
                chars.insert(i, chars[i])
            else:
                chars[i] = {"e": "é", "a": "ä", "o": "ö", "u": "ü"}.get(chars[i], chars[i])
            b = "".join(chars)
        pairs.append((a, b))
    # emails and long strings (DuckDB switches algorithm past 64 bytes)
    for _ in range(200):
        user = "".join(rng.choice("abcdefghij.") for _ in range(rng.randint(3, 30))).strip(".") or "x"
        other = user[: rng.randint(1, len(user))] + rng.choice(["", "1", "85", ".x"])
        pairs.append((f"{user}@example.com", f"{other}@example.com"))
    pairs += [("a" * 80, "a" * 79 + "b"), ("ab" * 40, "ba" * 40), ("sasha", "ssaca"), ("x", "y"), ("é", "e")]
    return [(a, b) for a, b in dict.fromkeys(pairs) if a and b]


def test_sql_jaro_winkler_reproduces_duckdb(tmp_path: Path) -> None:
    """Decisions at every threshold Splink uses (and more) equal DuckDB's own function's."""
    thresholds = [0.7000000000000001, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 1.0]
    decisions = ",\n".join(
        f"{{{{ cdp.jaro_winkler_at_least('p.jaro', 'p.prefix_bytes', {t!r}) }}}} as at_least_{i}"
        for i, t in enumerate(thresholds)
    )
    inline = (
        "select p.left_value, p.right_value, p.jaro, p.prefix_bytes,\n"
        + decisions
        + "\nfrom ({{ cdp.jaro_winkler_parts('jw_pairs') }}) as p"
    )
    sql = _compile_inline(tmp_path, inline)
    pairs = _jaro_winkler_pairs()
    assert len(pairs) > 2500
    with duckdb.connect() as con:
        con.execute("create table jw_pairs (left_value varchar, right_value varchar)")
        con.executemany("insert into jw_pairs values (?, ?)", pairs)
        rows = con.sql(f"select * from ({sql}) as sql_jw").fetchall()
        native = dict(
            ((a, b), s)
            for a, b, s in con.sql(
                "select left_value, right_value, jaro_winkler_similarity(left_value, right_value) from jw_pairs"
            ).fetchall()
        )
    assert len(rows) == len(pairs)
    mismatches = [
        (a, b, t, native[(a, b)], flags[i])
        for a, b, _jaro, _prefix, *flags in rows
        for i, t in enumerate(thresholds)
        if flags[i] != (native[(a, b)] >= t)
    ]
    assert not mismatches, mismatches[:10]
    # the unrounded value, too, is DuckDB's to within one rounding
    assert all(
        abs((jaro + prefix * 0.1 * (1 - jaro) if jaro > 0.7 else jaro) - native[(a, b)]) < 1e-15
        for a, b, jaro, prefix, *_ in rows
    )


def _compile_inline(tmp_path: Path, inline: str) -> str:
    """Compile Jinja SQL with the project's macros on the DuckDB target."""
    (output,) = dbt_in_parallel(
        [(["compile", "--inline", inline, "--quiet"], duckdb_env(tmp_path / "compile.duckdb"), tmp_path)]
    )
    return output


# ---- the whole identity step ------------------------------------------------------------------


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def _rows(database: Path, relation: str) -> list[tuple]:
    return query(database, f"select * from {relation}")


def test_sql_engine_reproduces_splink_and_the_union_find(duckdb_build: Path, tmp_path: Path) -> None:
    database = _copy(duckdb_build, tmp_path / "sql_engine.duckdb")
    dbt_in_parallel(
        [
            (
                [
                    "run",
                    *IDENTITY,
                    "--full-refresh",
                    "--vars",
                    json.dumps({**PINNED, "cdp_identity_engine": "sql"}),
                ],
                duckdb_env(database),
                tmp_path,
            )
        ]
    )
    # Splink's scores: bit for bit
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute(f"attach '{duckdb_build}' as python_engine (read_only)")
        pairs, identical = con.sql(
            """select count(*),
                      count(*) filter (where a.match_probability = b.match_probability
                                       and a.match_weight = b.match_weight
                                       and a.comparison_levels = b.comparison_levels)
               from intermediate.int_identity__splink_edges as a
               full outer join python_engine.intermediate.int_identity__splink_edges as b
                 using (left_record_key, right_record_key)"""
        ).fetchall()[0]
    assert pairs > 100 and pairs == identical, (pairs, identical)
    for relation in [
        "intermediate.int_identity__edge_decisions",
        "intermediate.int_identity__clusters",
        "marts.dim_customer_records",
        "marts.dim_customers",
        "marts.fct_identity_edges",
    ]:
        assert not diff_rows(_rows(duckdb_build, relation), _rows(database, relation)), relation


@pytest.mark.parametrize("identity", GUARD_SETTINGS, ids=["all-limits-1", "reordered-splink-priority-2"])
def test_sql_guard_drops_what_the_union_find_drops(
    duckdb_build: Path, tmp_path: Path, identity: dict
) -> None:
    """Limits tight enough that the guard bites in many components: the SQL rounds must take every
    edge's decision (and reason) exactly as the greedy union-find does."""
    results = {engine: _copy(duckdb_build, tmp_path / f"{engine}.duckdb") for engine in ("splink", "sql")}
    dbt_in_parallel(
        [
            (
                [
                    "run",
                    *GUARD,
                    "--vars",
                    json.dumps({**PINNED, "cdp_identity_engine": engine, "cdp_identity": identity}),
                ],
                duckdb_env(database),
                tmp_path / engine,
            )
            for engine, database in results.items()
        ]
    )
    dropped = query(
        results["sql"],
        "select count(*) from intermediate.int_identity__edge_decisions where decision_reason like 'would give%'",
    )[0][0]
    assert dropped > 0, "the limits dropped nothing: the test would prove nothing"
    for relation in ["intermediate.int_identity__edge_decisions", "intermediate.int_identity__clusters"]:
        differences = diff_rows(_rows(results["splink"], relation), _rows(results["sql"], relation))
        assert not differences, (relation, differences[:6])
