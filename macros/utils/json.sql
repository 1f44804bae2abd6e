{#- Text value at a JSON path (dotted, e.g. 'page.url') of a JSON text column;
    null when the column is not valid JSON or the path is missing. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'cdp')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_extract_path_text(try_parse_json({{ column }}), '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    case when json_valid({{ column }}) then json_extract_string({{ column }}, '$.{{ path }}') end
{%- endmacro %}

{#- True when the text is valid JSON. -#}
{% macro is_valid_json(column) -%}
    {{ return(adapter.dispatch('is_valid_json', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__is_valid_json(column) -%}
    (try_parse_json({{ column }}) is not null)
{%- endmacro %}

{% macro duckdb__is_valid_json(column) -%}
    coalesce(json_valid({{ column }}), false)
{%- endmacro %}

{#- The whole row of a relation alias as JSON text, for the quarantine. -#}
{% macro row_as_json(alias) -%}
    {{ return(adapter.dispatch('row_as_json', 'cdp')(alias)) }}
{%- endmacro %}

{% macro default__row_as_json(alias) -%}
    to_json(object_construct_keep_null({{ alias }}.*))
{%- endmacro %}

{% macro duckdb__row_as_json(alias) -%}
    cast(to_json({{ alias }}) as varchar)
{%- endmacro %}

{#- The whole row of a relation alias as one value (a struct on DuckDB, an
    object on Snowflake), so a model can carry the row cheaply and serialise
    it only where it needs the text (`object_as_json`). -#}
{% macro row_as_object(alias) -%}
    {{ return(adapter.dispatch('row_as_object', 'cdp')(alias)) }}
{%- endmacro %}

{% macro default__row_as_object(alias) -%}
    object_construct_keep_null({{ alias }}.*)
{%- endmacro %}

{% macro duckdb__row_as_object(alias) -%}
    {{ alias }}
{%- endmacro %}

{#- A value from `row_as_object` as JSON text (the same text `row_as_json` gives). -#}
{% macro object_as_json(column) -%}
    {{ return(adapter.dispatch('object_as_json', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__object_as_json(column) -%}
    to_json({{ column }})
{%- endmacro %}

{% macro duckdb__object_as_json(column) -%}
    cast(to_json({{ column }}) as varchar)
{%- endmacro %}
