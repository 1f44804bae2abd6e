{#- The single clock of the project: every time-dependent model asks this macro
    for "now", so tests and the demo can pin it with the var `cdp_run_at`. -#}
{% macro run_at() -%}
    {%- set pinned = var('cdp_run_at', '') -%}
    {%- if pinned -%}
        cast('{{ pinned }}' as timestamp)
    {%- else -%}
        {{ adapter.dispatch('current_utc_timestamp', 'cdp')() }}
    {%- endif -%}
{%- endmacro %}

{% macro default__current_utc_timestamp() -%}
    cast(current_timestamp as timestamp)
{%- endmacro %}

{% macro duckdb__current_utc_timestamp() -%}
    cast(timezone('UTC', current_timestamp) as timestamp)
{%- endmacro %}

{% macro snowflake__current_utc_timestamp() -%}
    cast(sysdate() as timestamp_ntz)
{%- endmacro %}
