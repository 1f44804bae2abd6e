{#- Small functions that DuckDB and Snowflake spell differently. Each returns
    the same value on both for the inputs the project gives it (documented in
    docs/snowflake.md). -#}

{#- Base-2 logarithm. -#}
{% macro log2(expression) -%}
    {{ return(adapter.dispatch('log2', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__log2(expression) -%} log(2, {{ expression }}) {%- endmacro %}
{% macro duckdb__log2(expression) -%} log2({{ expression }}) {%- endmacro %}

{#- Levenshtein edit distance. -#}
{% macro levenshtein(left, right) -%}
    {{ return(adapter.dispatch('levenshtein', 'cdp')(left, right)) }}
{%- endmacro %}
{% macro default__levenshtein(left, right) -%} editdistance({{ left }}, {{ right }}) {%- endmacro %}
{% macro duckdb__levenshtein(left, right) -%} levenshtein({{ left }}, {{ right }}) {%- endmacro %}

{#- A date as 'YYYY-MM-DD' text (Snowflake's cast would follow the session's
    DATE_OUTPUT_FORMAT). -#}
{% macro date_text(expression) -%}
    {{ return(adapter.dispatch('date_text', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__date_text(expression) -%} to_varchar({{ expression }}, 'YYYY-MM-DD') {%- endmacro %}
{% macro duckdb__date_text(expression) -%} cast({{ expression }} as varchar) {%- endmacro %}

{#- Seconds since 1970-01-01 of a date. -#}
{% macro epoch_seconds(expression) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__epoch_seconds(expression) -%} date_part(epoch_second, {{ expression }}) {%- endmacro %}
{% macro duckdb__epoch_seconds(expression) -%} epoch({{ expression }}) {%- endmacro %}

{#- The first match of a regular expression, '' when there is none, null for
    null input (DuckDB's regexp_extract; Snowflake's regexp_substr gives null
    for no match). -#}
{% macro regexp_extract(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_extract', 'cdp')(expression, pattern)) }}
{%- endmacro %}
{% macro default__regexp_extract(expression, pattern) -%}
    case when {{ expression }} is not null then coalesce(regexp_substr({{ expression }}, '{{ pattern }}'), '') end
{%- endmacro %}
{% macro duckdb__regexp_extract(expression, pattern) -%}
    regexp_extract({{ expression }}, '{{ pattern }}', 0)
{%- endmacro %}

{#- The UTF-8 bytes of a string as upper-case hex, two characters per byte. -#}
{% macro utf8_hex(expression) -%}
    {{ return(adapter.dispatch('utf8_hex', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__utf8_hex(expression) -%} hex_encode({{ expression }}) {%- endmacro %}
{% macro duckdb__utf8_hex(expression) -%} hex({{ expression }}) {%- endmacro %}

{#- True when every row of the group is true (null when the group has none). -#}
{% macro bool_and(expression) -%}
    {{ return(adapter.dispatch('bool_and', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__bool_and(expression) -%} booland_agg({{ expression }}) {%- endmacro %}
{% macro duckdb__bool_and(expression) -%} bool_and({{ expression }}) {%- endmacro %}

{#- The integers 1..n as column `n`, from cross joins of a ten-row VALUES list
    (no generator function needed). -#}
{% macro integer_series(upper_bound) -%}
    {%- set digits = namespace(count=1, power=10) -%}
    {%- for _ in range(12) if digits.power < upper_bound -%}
        {%- set digits.count = digits.count + 1 -%}
        {%- set digits.power = digits.power * 10 -%}
    {%- endfor -%}
    select n from (
        select 1
        {%- for i in range(digits.count) %} + d{{ i }}.d * {{ 10 ** i }}{% endfor %} as n
        from
        {%- for i in range(digits.count) %}
            (select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
             union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) as d{{ i }}{{ ',' if not loop.last }}
        {%- endfor %}
    ) as series
    where n <= {{ upper_bound }}
{%- endmacro %}

{#- A timestamp as DuckDB writes it as text ('2026-11-01 12:00:00', fractions
    with their trailing zeros cut: '...:05.123'), so hashes over timestamps agree
    across warehouses (Snowflake's own cast follows TIMESTAMP_NTZ_OUTPUT_FORMAT,
    '...:05.000' by default). -#}
{% macro timestamp_text(expression) -%}
    {{ return(adapter.dispatch('timestamp_text', 'cdp')(expression)) }}
{%- endmacro %}
{% macro default__timestamp_text(expression) -%}
    to_varchar({{ expression }}, 'YYYY-MM-DD HH24:MI:SS')
    || coalesce(nullif('.' || regexp_replace(to_varchar({{ expression }}, 'FF6'), '0+$', ''), '.'), '')
{%- endmacro %}
{% macro duckdb__timestamp_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}
