{#- Deterministic md5 key over columns (nulls and separators made explicit so
    ('a', null) and (null, 'a') differ). Same value on every adapter. -#}
{% macro hash_key(columns) -%}
    md5(
        {%- for c in columns %}
        coalesce(cast({{ c }} as {{ dbt.type_string() }}), '<null>'){{ " || '|' ||" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
