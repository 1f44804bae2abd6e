{#- ISO 3166-1 alpha-2 code for a free-text country, or null when unknown. -#}
{% macro normalize_country(column) -%}
    {{ return(adapter.dispatch('normalize_country', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__normalize_country(column) -%}
    {%- set key = "upper(trim(replace(" ~ column ~ ", '.', '')))" -%}
    case {{ key }}
    {%- for iso, country in cdp.country_reference().items() %}
        {%- for alias in country['aliases'] %}
        when '{{ alias }}' then '{{ iso }}'
        {%- endfor %}
    {%- endfor %}
    end
{%- endmacro %}
