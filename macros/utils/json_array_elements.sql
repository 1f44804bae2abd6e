{#- One row per element of a JSON array column: the `columns` carried from
    `relation`, plus `element_index` (1-based) and `element_json` (text).
    Rows whose column is not a JSON array produce no elements. -#}
{% macro json_array_elements(relation, json_column, columns) -%}
    {{ return(adapter.dispatch('json_array_elements', 'cdp')(relation, json_column, columns)) }}
{%- endmacro %}

{% macro duckdb__json_array_elements(relation, json_column, columns) -%}
    select
        {%- for c in columns %}
        r.{{ c }},
        {%- endfor %}
        cast(e.element_index as integer) as element_index,
        cast(e.element_json as varchar) as element_json
    from {{ relation }} as r,
        unnest(cast(cast(r.{{ json_column }} as json) as json[])) with ordinality as e(element_json, element_index)
    where json_valid(r.{{ json_column }}) and json_type(cast(r.{{ json_column }} as json)) = 'ARRAY'
{%- endmacro %}

{% macro snowflake__json_array_elements(relation, json_column, columns) -%}
    select
        {%- for c in columns %}
        r.{{ c }},
        {%- endfor %}
        cast(e.index + 1 as integer) as element_index,
        to_json(e.value) as element_json
    from {{ relation }} as r,
        lateral flatten(input => try_parse_json(r.{{ json_column }})) as e
    where is_array(try_parse_json(r.{{ json_column }}))
{%- endmacro %}
