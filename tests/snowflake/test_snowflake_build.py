"""`dbt build --target snowflake` of the whole project on fakesnow gives the DuckDB build's results,
with SQL that Snowflake's own grammar accepts.

Every relation the DuckDB build creates is read from both warehouses and compared as a multiset of
rows (floats to 1e-9). The only columns allowed to differ are listed, with the reason, in
compare.EXPLAINED; everything else (customers, clusters, golden records, Splink edges and
probabilities, traits, consent, audiences) must be identical.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import duckdb
import sqlglot

from tests.snowflake.compare import compare_builds
from tests.snowflake.conftest import SnowflakeBuild, run_dbt_snowflake

# the relations the issue names: these must exist, hold rows and match
MUST_MATCH = [
    "marts.dim_customers",
    "marts.dim_customer_records",
    "intermediate.int_identity__clusters",
    "intermediate.int_identity__customer_id_registry",
    "intermediate.int_identity__splink_edges",
    "intermediate.int_identity__edge_decisions",
    "marts.fct_identity_edges",
    "audiences.aud_high_value_customers",
    "audiences.aud_cart_abandoners",
    "audiences.aud_lapsed_customers",
    "audiences.aud_newsletter_never_purchased",
    "audiences.aud_high_intent_browsers",
]


def test_build_on_snowflake_succeeds(snowflake_build: SnowflakeBuild) -> None:
    assert "Completed successfully" in snowflake_build.build.output, snowflake_build.build.output[-3000:]
    assert re.search(r"ERROR=0 ", snowflake_build.build.output)


def test_same_results_as_duckdb(snowflake_build: SnowflakeBuild, duckdb_build: Path) -> None:
    conn = snowflake_build.server.connect()
    try:
        with duckdb.connect(str(duckdb_build), read_only=True) as dd:
            results = compare_builds(dd, conn)
    finally:
        conn.close()
    rows = {name: count for name, count, _, _ in results}
    assert set(MUST_MATCH) <= set(rows), set(MUST_MATCH) - set(rows)
    assert all(rows[name] > 0 for name in MUST_MATCH), {name: rows[name] for name in MUST_MATCH}
    failures = [(name, columns, differences) for name, _, columns, differences in results if differences]
    assert not failures, "\n".join(
        f"{name} ({', '.join(columns)}):\n"
        + "\n".join(f"  duckdb    {a}\n  snowflake {b}" for a, b in differences[:4])
        for name, columns, differences in failures
    )
    print("\n".join(f"{name}: {count} rows identical" for name, count, _, _ in results))


def test_splink_probabilities_match_python_splink(
    snowflake_build: SnowflakeBuild, duckdb_build: Path
) -> None:
    """The SQL scoring on Snowflake against Splink itself (Python, on DuckDB): same pairs, same levels,
    probabilities and weights within 1e-9."""
    sql = (
        "select left_record_key, right_record_key, match_probability, match_weight, comparison_levels "
        "from intermediate.int_identity__splink_edges"
    )
    with duckdb.connect(str(duckdb_build), read_only=True) as dd:
        splink = {(r[0], r[1]): r[2:] for r in dd.sql(sql).fetchall()}
    snowflake = {(r[0], r[1]): r[2:] for r in snowflake_build.server.query(sql)}
    assert len(splink) > 100
    assert splink.keys() == snowflake.keys()
    worst_p = max(abs(splink[k][0] - snowflake[k][0]) for k in splink)
    worst_w = max(abs(splink[k][1] - snowflake[k][1]) for k in splink)
    assert worst_p <= 1e-9 and worst_w <= 1e-9, (worst_p, worst_w)
    assert all(splink[k][2] == snowflake[k][2] for k in splink)
    print(f"{len(splink)} Splink pairs; max |dp| = {worst_p:.3g}, max |dw| = {worst_w:.3g}")


# ---- SQL that real Snowflake accepts ---------------------------------------------------------

# Every function the project (and dbt-snowflake's own macros) call on Snowflake, checked against
# Snowflake's SQL reference. fakesnow runs DuckDB underneath and accepts DuckDB-only functions
# (try_strptime, bool_and, jaro_winkler_similarity, list_transform, ...): any name not listed here
# fails the test until someone has checked it exists on Snowflake with the meaning the SQL expects.
# fmt: off
SNOWFLAKE_FUNCTIONS = {
    # aggregate and window
    "count", "sum", "min", "max", "avg", "row_number", "percent_rank", "booland_agg", "listagg", "array_agg", "any_value",
    "bitxor_agg",
    # hash (the customer marts' inputs_fingerprint)
    "hash",
    # conditional
    "coalesce", "nullif", "iff", "nvl", "greatest", "least", "exists",
    # numeric
    "abs", "floor", "ceil", "round", "power", "exp", "ln", "log", "sqrt", "mod", "div0",
    # string
    "lower", "upper", "trim", "ltrim", "rtrim", "length", "len", "substr", "substring", "left", "right", "lpad", "rpad", "replace", "translate",
    "split_part", "initcap", "concat", "position", "charindex", "md5", "hex_encode", "editdistance", "regexp_replace", "regexp_like",
    "regexp_substr", "contains", "startswith", "endswith", "split",
    # conversion
    "cast", "try_cast", "to_varchar", "to_char", "to_number", "try_to_number", "to_date", "try_to_date", "to_timestamp_ntz",
    "try_to_timestamp_ntz", "to_timestamp", "to_timestamp_tz", "to_boolean", "to_variant", "to_json", "try_parse_json", "parse_json",
    # dates
    "dateadd", "datediff", "date_part", "date_trunc", "convert_timezone", "sysdate", "current_timestamp", "current_date",
    "timestampadd", "timestampdiff",
    # semi-structured
    "object_construct", "object_construct_keep_null", "json_extract_path_text", "is_array", "flatten", "array_size", "get",
    "array_construct", "object_keys",
    # table functions and what dbt-snowflake's own macros call
    "generator", "result_scan", "last_query_id", "current_database", "current_schema", "current_warehouse", "current_role",
}
# words followed by "(" that are SQL syntax, not function calls
_NOT_FUNCTIONS = {
    "as", "in", "over", "values", "and", "or", "not", "on", "from", "join", "select", "with", "where", "then", "else", "when", "by", "filter", "within", "group",
    "using", "into", "recursive", "partition", "order", "view", "table", "is", "case", "end", "if", "union", "all", "like", "between", "number",
    "varchar", "decimal", "char", "timestamp", "timestamp_ntz", "date", "double", "float", "integer", "int", "bigint", "boolean", "text", "numeric",
    "string", "transient", "temporary", "key", "input", "cluster", "set", "limit", "lateral", "identifier", "interval",
    "exclude",  # SELECT * EXCLUDE (col): a keyword on both dialects
}
# fmt: on
_FUNCTION_CALL = re.compile(r"(?<![\w.$\"'])([a-z_][a-z0-9_$]*)\s*\(", re.IGNORECASE)
_STRING = re.compile(r"'(?:[^']|'')*'")
_CTE_COLUMNS = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\([a-z0-9_,\s]*\)\s+as\s*\(", re.IGNORECASE)


def _model_sql(build: SnowflakeBuild) -> dict[str, str]:
    compiled = build.build.target_path / "compiled"
    files = sorted(compiled.rglob("*.sql"))
    assert len(files) > 100, f"too few compiled files in {compiled}"
    return {str(path.relative_to(compiled)): path.read_text(encoding="utf-8") for path in files}


def _statements(build: SnowflakeBuild) -> list[str]:
    """The statements dbt ran that carry project SQL (not session chatter or SHOW/DESCRIBE)."""
    keep = re.compile(r"^\s*(/\*.*?\*/\s*)?(create|insert|delete|update|merge|select|with)\b", re.I | re.S)
    # leave out dbt-snowflake's seed loader: inserts with bind parameters (%s), cut short in the log
    return [s for s in build.executed_sql() if keep.match(s) and "%s" not in s]


def test_every_compiled_model_parses_as_snowflake_sql(snowflake_build: SnowflakeBuild) -> None:
    failures = []
    for name, sql in _model_sql(snowflake_build).items():
        try:
            sqlglot.parse(sql, read="snowflake")
        except sqlglot.errors.ParseError as exc:
            failures.append(f"{name}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)


def test_every_executed_statement_parses_as_snowflake_sql(snowflake_build: SnowflakeBuild) -> None:
    """Including what the custom materializations (components, edge decisions) and incremental
    models run, which never appears in target/compiled."""
    statements = _statements(snowflake_build)
    assert len(statements) > 200
    failures = []
    for sql in statements:
        try:
            sqlglot.parse(sql, read="snowflake")
        except sqlglot.errors.ParseError as exc:
            failures.append(f"{sql[:200]!r}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures[:20])
    assert any("__ed_round_edges" in s for s in statements), "the edge-decision rounds ran on Snowflake"
    assert any("__cc_next" in s for s in statements), "the connected-components rounds ran on Snowflake"


def test_only_snowflake_functions_and_no_quoted_lower_case_identifiers(
    snowflake_build: SnowflakeBuild,
) -> None:
    texts = list(_model_sql(snowflake_build).values()) + _statements(snowflake_build)
    unknown: dict[str, str] = {}
    quoted: dict[str, str] = {}
    for text in texts:
        code = re.sub(r"--[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))
        # a recursive CTE lists its columns: `name (a, b) as (` is not a call
        code = _CTE_COLUMNS.sub(r"\1 as (", code)
        # a quoted identifier in lower case names a different column on Snowflake (Splink's trap)
        for match in re.finditer(r'"([^"]*[a-z][^"]*)"', _STRING.sub("''", code)):
            quoted.setdefault(match.group(1), code[max(0, match.start() - 80) : match.end() + 40])
        for match in _FUNCTION_CALL.finditer(_STRING.sub("''", code)):
            name = match.group(1).lower()
            if name not in SNOWFLAKE_FUNCTIONS and name not in _NOT_FUNCTIONS:
                unknown.setdefault(name, code[max(0, match.start() - 80) : match.end() + 40])
    # CTE names are followed by "as (", so what is left is a call
    assert not unknown, "functions not checked against Snowflake's reference:\n" + "\n".join(
        f"{name}: ...{context}..." for name, context in sorted(unknown.items())
    )
    assert not quoted, "quoted lower-case identifiers:\n" + "\n".join(
        f"{name}: ...{context}..." for name, context in sorted(quoted.items())
    )


# ---- incremental identity on Snowflake --------------------------------------------------------


def test_customer_ids_survive_a_rebuild_on_snowflake(snowflake_build: SnowflakeBuild, tmp_path: Path) -> None:
    """The registry's incremental path (delete+insert through a transient table) on Snowflake:
    rebuilding identity, even with --full-refresh, keeps every customer_id and logs no change."""
    server = snowflake_build.server
    before = dict(server.query("select record_key, customer_id from marts.dim_customer_records"))
    assert len(before) > 500
    run_dbt_snowflake(
        server,
        tmp_path,
        "run",
        "--select",
        "path:models/intermediate/identity",
        "path:models/marts/identity",
        "--full-refresh",
    )
    after = dict(server.query("select record_key, customer_id from marts.dim_customer_records"))
    assert after == before
    assert server.query("select count(*) from marts.fct_customer_id_changes") == [(0,)]


def test_no_scratch_tables_left_behind(snowflake_build: SnowflakeBuild) -> None:
    """The loop materializations drop their scratch tables; incremental models their tmp relations."""
    rows = snowflake_build.server.query(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where position('__cc_' in lower(table_name)) > 0 or position('__ed_' in lower(table_name)) > 0 "
        "or position('__dbt_tmp' in lower(table_name)) > 0"
    )
    assert rows == []
    assert (
        snowflake_build.server.query("select count(*) from intermediate.int_identity__edge_decisions")[0][0]
        > 0
    )


# ---- incremental facts on Snowflake -----------------------------------------------------------


def test_incremental_facts_on_snowflake(snowflake_build: SnowflakeBuild, tmp_path: Path) -> None:
    """The facts' incremental path on Snowflake (state diff, device closure, vanished rows, state
    rewrite): with one lookup forgotten in the state, the run recomputes its rows and the facts stay
    what the full build made."""
    server = snowflake_build.server
    events = "select message_id, customer_id, attribution_method from marts.fct_events"
    orders = "select order_id, customer_id, attribution_method from marts.fct_orders"
    before = sorted(server.query(events)), sorted(server.query(orders))
    assert len(before[0]) > 1000
    server.query(
        "delete from marts.fct_events__state where input_type = 'record' and input_value = "
        "(select min(record_key) from marts.dim_customer_records where source_table = 'web_events')"
    )
    run_dbt_snowflake(server, tmp_path, "run", "--select", "fct_events", "fct_orders")
    compiled = tmp_path / "target" / "compiled" / "cdp" / "models" / "marts"
    assert "touched_events" in (compiled / "engagement" / "fct_events.sql").read_text()
    assert "changed_inputs" in (compiled / "commerce" / "fct_orders.sql").read_text()
    assert (sorted(server.query(events)), sorted(server.query(orders))) == before
    assert server.query("select count(*) from marts.fct_events__state where input_type = '_config'") == [(1,)]


# ---- incremental consent on Snowflake ---------------------------------------------------------


def test_incremental_consent_on_snowflake(snowflake_build: SnowflakeBuild, tmp_path: Path) -> None:
    """The consent marts' incremental path on Snowflake (fingerprints through bitxor_agg, delete+insert
    through a transient table, the post-hooks): a customer renamed to one that does not exist, and one
    with a wrong value and a wrong fingerprint, are restored as the full build made them; a wrong value
    under the right fingerprint is not rebuilt (the run rebuilds only changed customers)."""
    server = snowflake_build.server
    relations = ("marts.customer_consent", "marts.customer_consent_flags")
    before = {relation: Counter(server.query(f"select * from {relation}")) for relation in relations}
    assert all(before.values())
    moved, changed, kept = (
        row[0]
        for row in server.query(
            "select customer_id from marts.customer_consent_flags order by customer_id limit 3"
        )
    )
    # a column each mart writes and nothing downstream reads into a fingerprint
    planted = {
        "marts.customer_consent": "decided_via = 'planted'",
        "marts.customer_consent_flags": "analytics_consent = not analytics_consent",
    }
    for relation in relations:
        server.query(f"update {relation} set customer_id = 'C-VANISHED' where customer_id = '{moved}'")
        server.query(
            f"update {relation} set inputs_fingerprint = 0, {planted[relation]} where customer_id = '{changed}'"
        )
        server.query(f"update {relation} set {planted[relation]} where customer_id = '{kept}'")
    run_dbt_snowflake(server, tmp_path, "run", "--select", "customer_consent", "customer_consent_flags")
    compiled = tmp_path / "target" / "compiled" / "cdp" / "models" / "marts" / "consent"
    assert "changed_customers" in (compiled / "customer_consent.sql").read_text()
    for relation in relations:
        after = Counter(server.query(f"select * from {relation}"))
        kept_rows = Counter(server.query(f"select * from {relation} where customer_id = '{kept}'"))
        assert after - kept_rows == before[relation] - Counter(
            {row: count for row, count in before[relation].items() if row[0] == kept}
        ), relation
        assert kept_rows and not (kept_rows & before[relation]), relation


# ---- incremental quarantine on Snowflake ------------------------------------------------------


def test_incremental_quarantine_on_snowflake(snowflake_build: SnowflakeBuild, tmp_path: Path) -> None:
    """The quarantine's incremental path on Snowflake (watermark, delete+insert through a transient
    table, the erasure post-hook): with its newest rows forgotten and a row of an erased record
    planted, a run restores what the full build made."""
    server = snowflake_build.server
    quarantine = (
        "select quarantine_row_id, source_table, source_record_id, quarantine_reason, raw_row, _loaded_at "
        "from staging.stg_audit__quarantine"
    )
    before = sorted(server.query(quarantine))
    assert before
    server.query(
        "delete from staging.stg_audit__quarantine "
        "where _loaded_at = (select max(_loaded_at) from staging.stg_audit__quarantine)"
    )
    server.query(
        "insert into staging.stg_audit__quarantine "
        "(quarantine_row_id, source_table, source_record_id, quarantine_reason, raw_row, _loaded_at) "
        "select 'planted', source_table, source_record_id, 'planted', '{}', cast('2000-01-01' as timestamp) "
        "from staging.stg_privacy__erasure_scope where source_record_id is not null limit 1"
    )
    assert server.query(
        "select count(*) from staging.stg_audit__quarantine where quarantine_row_id = 'planted'"
    ) == [(1,)]
    run_dbt_snowflake(server, tmp_path, "run", "--select", "stg_audit__quarantine")
    assert sorted(server.query(quarantine)) == before


# ---- incremental staging on Snowflake ---------------------------------------------------------

INCREMENTAL_STAGING = (
    "stg_crm__contacts",
    "stg_shop__customers",
    "stg_app__users",
    "stg_consent__events",
    "stg_helpdesk__tickets",
    "stg_newsletter__signups",
    "stg_shop__order_lines",
)


def test_incremental_staging_on_snowflake(snowflake_build: SnowflakeBuild, tmp_path: Path) -> None:
    """The versioned staging models' incremental path on Snowflake (the batch's keys as a subquery,
    delete+insert through a transient table, the order lines' pre-hook, the erasure post-hook): with
    their newest rows forgotten, a run restores what the full build made."""
    server = snowflake_build.server
    before = {model: Counter(server.query(f"select * from staging.{model}")) for model in INCREMENTAL_STAGING}
    assert all(before.values())
    for model in INCREMENTAL_STAGING:
        server.query(
            f"delete from staging.{model} where _loaded_at = (select max(_loaded_at) from staging.{model})"
        )
    run_dbt_snowflake(server, tmp_path, "run", "--select", *INCREMENTAL_STAGING)
    compiled = tmp_path / "target" / "compiled" / "cdp" / "models" / "staging"
    assert "union all" in (compiled / "crm" / "stg_crm__contacts.sql").read_text()
    after = {model: Counter(server.query(f"select * from staging.{model}")) for model in INCREMENTAL_STAGING}
    assert after == before
