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
    {# every cast reads a value a case let through (valid JSON, then an
       array), so no plan can cast a malformed value before a filter: the
       incremental order lines' plan did, and failed #}
    from (
        select
            *,
            cast(case when json_valid({{ json_column }}) then {{ json_column }} end as json) as _parsed_json
        from {{ relation }}
    ) as r,
        unnest(cast(case when json_type(r._parsed_json) = 'ARRAY' then r._parsed_json end as json[]))
            with ordinality as e(element_json, element_index)
    where json_type(r._parsed_json) = 'ARRAY'
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
