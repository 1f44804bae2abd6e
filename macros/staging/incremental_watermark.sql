{#- The newest `_loaded_at` an incremental model holds (an old constant when it
    is empty, so an empty table takes every row). -#}
{% macro incremental_watermark(column='_loaded_at') -%}
    (select coalesce(max({{ column }}), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{#- The same watermark as a literal, read from the warehouse when the model
    runs (Snowflake's text form of a timestamp may drop digits: a lower
    watermark only re-reads rows, which delete+insert replaces). DuckDB plans a
    scalar subquery in a filter as a nested-loop join; a literal is a plain
    filter the scan can use where it reaches it. -#}
{% macro incremental_watermark_literal(column='_loaded_at') -%}
    {%- set value = none -%}
    {%- if execute -%}
        {%- set result = run_query(
            'select cast(max(' ~ column ~ ') as ' ~ dbt.type_string() ~ ') from ' ~ this) -%}
        {%- set value = result.columns[0].values()[0] -%}
    {%- endif -%}
    cast('{{ value if value is not none else '1900-01-01 00:00:00' }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
