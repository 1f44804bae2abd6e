{#- `value` equals one of the literal `values` (false for a null value).
    DuckDB rewrites `x in (<literals>)` into a mark join against the list.
    Inside a base view that join stops a later filter (an incremental run's
    `_loaded_at`) from reaching the raw scan, so every raw row was normalised
    before the filter dropped it. `list_position` is a plain function: the
    filter passes it. -#}
{% macro is_one_of(value, values) -%}
    {{ return(adapter.dispatch('is_one_of', 'cdp')(value, values)) }}
{%- endmacro %}

{% macro default__is_one_of(value, values) -%}
    coalesce({{ value }} in ({% for v in values %}'{{ v | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %}), false)
{%- endmacro %}

{% macro duckdb__is_one_of(value, values) -%}
    (list_position([{% for v in values %}'{{ v | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor %}], {{ value }}) is not null)
{%- endmacro %}
