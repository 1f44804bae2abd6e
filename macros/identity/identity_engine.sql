{#- Which implementation scores and guards identity edges:
    - 'splink': the Python models int_identity__splink_edges (Splink 5) and
      int_identity__edge_decisions (union-find), DuckDB only;
    - 'sql': their SQL twins in models/intermediate/identity/snowflake/
      (*_sql, aliased to the same relation names), which run on any warehouse.
    Default: 'splink' on DuckDB, 'sql' everywhere else (Snowflake has no
    Python models here and Splink has no Snowflake backend). Set the var
    `cdp_identity_engine` to 'sql' to run the SQL twins on DuckDB (the tests do,
    to prove both produce the same edges). -#}
{% macro identity_engine() -%}
    {%- set engine = var('cdp_identity_engine', 'splink' if target.type == 'duckdb' else 'sql') -%}
    {%- if engine not in ('splink', 'sql') -%}
        {{ exceptions.raise_compiler_error("var cdp_identity_engine must be 'splink' or 'sql', not '" ~ engine ~ "'") }}
    {%- endif -%}
    {%- if engine == 'splink' and target.type != 'duckdb' -%}
        {{ exceptions.raise_compiler_error("cdp_identity_engine 'splink' needs a DuckDB target (Splink runs in a dbt Python model on DuckDB); use 'sql' on " ~ target.type) }}
    {%- endif -%}
    {{ return(engine) }}
{%- endmacro %}

{#- ref() to whichever twin of an identity model the engine builds. -#}
{% macro identity_ref(name) -%}
    {{ return(ref(name ~ '_sql') if cdp.identity_engine() == 'sql' else ref(name)) }}
{%- endmacro %}
