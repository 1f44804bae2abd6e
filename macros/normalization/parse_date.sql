{#- Calendar date from text in mixed layouts (ISO, US m/d/Y, European d.m.Y,
    'March 7, 1985', '7 March 1985'); null when nothing parses. Slashes are
    read US-style (month first), dots European-style, which is how the tools
    that write them behave. -#}
{% macro parse_date(column) -%}
    {{ return(adapter.dispatch('parse_date', 'cdp')(column)) }}
{%- endmacro %}

{% macro date_formats() -%}
    {{ return(['%Y-%m-%d', '%m/%d/%Y', '%d.%m.%Y', '%Y/%m/%d', '%B %d, %Y', '%b %d, %Y', '%d %B %Y', '%d %b %Y', '%Y%m%d']) }}
{%- endmacro %}

{% macro duckdb__parse_date(column) -%}
    cast(try_strptime(trim(cast({{ column }} as varchar)), ['{{ cdp.date_formats() | join("', '") }}']) as date)
{%- endmacro %}

{#- The same formats, read exactly like DuckDB's try_strptime (see
    snowflake_strptime in parse_timestamp.sql). -#}
{% macro snowflake__parse_date(column) -%}
    to_date({{ cdp.snowflake_strptime("trim(to_varchar(" ~ column ~ "))", cdp.date_formats()) }})
{%- endmacro %}
