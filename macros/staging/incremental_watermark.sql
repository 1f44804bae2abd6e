{#- The newest `_loaded_at` an incremental model holds (an old constant when it
    is empty, so an empty table takes every row). -#}
{% macro incremental_watermark(column='_loaded_at') -%}
    (select coalesce(max({{ column }}), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}
