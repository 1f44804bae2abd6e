{#- Lower-cased, trimmed email with `mailto:` and stray trailing dots removed,
    or null when the result is not a syntactically valid address. -#}
{% macro normalize_email(column) -%}
    {{ return(adapter.dispatch('normalize_email', 'cdp')(column)) }}
{%- endmacro %}

{% macro default__normalize_email(column) -%}
    {%- set cleaned = cdp.regex_replace_all(
        cdp.regex_replace_all("lower(trim(" ~ column ~ "))", '^mailto:|^<|>$', ''),
        '[.]+$', '') -%}
    case
        when {{ cdp.regex_full_match(cleaned, "[a-z0-9][a-z0-9._%+''-]*@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}") }}
         and {{ cleaned }} not like '%..%'
        then {{ cleaned }}
    end
{%- endmacro %}

{#- True when the column holds something that is not a valid email. -#}
{% macro is_invalid_email(column) -%}
    (nullif(trim({{ column }}), '') is not null and {{ cdp.normalize_email(column) }} is null)
{%- endmacro %}
