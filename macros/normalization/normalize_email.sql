{#- Lower-cased, trimmed email with `mailto:` and stray trailing dots removed,
    or null when the result is not a syntactically valid address. -#}
{% macro normalize_email(column) -%}
    {{ return(adapter.dispatch('normalize_email', 'cdp')(column)) }}
{%- endmacro %}

{#- A valid normalised address: lower case, starts with [a-z0-9], ends with a
    top-level domain (so no space, `mailto:`, `<`, `>` or trailing dot). -#}
{% macro email_pattern() -%}
    [a-z0-9][a-z0-9._%+''-]*@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}
{%- endmacro %}

{% macro default__normalize_email(column) -%}
    {%- set cleaned = cdp.regex_replace_all(
        cdp.regex_replace_all("lower(trim(" ~ column ~ "))", '^mailto:|^<|>$', ''),
        '[.]+$', '') -%}
    case
        when {{ cdp.regex_full_match(cleaned, cdp.email_pattern()) }}
         and {{ cleaned }} not like '%..%'
        then {{ cleaned }}
    end
{%- endmacro %}

{#- True when the column is its own normalize_email(): a value matching the
    pattern has nothing for the cleaning to remove, so this is the same check
    as `normalize_email(column) = column` with one regex instead of five
    (the valid_email test runs it on every staged email). -#}
{% macro is_normalized_email(column) -%}
    ({{ cdp.regex_full_match(column, cdp.email_pattern()) }} and {{ column }} not like '%..%')
{%- endmacro %}

{#- True when the column holds something that is not a valid email. -#}
{% macro is_invalid_email(column) -%}
    (nullif(trim({{ column }}), '') is not null and {{ cdp.normalize_email(column) }} is null)
{%- endmacro %}
