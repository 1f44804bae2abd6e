{#- A person's name part trimmed, with inner whitespace collapsed and each word
    (split on spaces and hyphens) capitalised; null for placeholders such as
    'n/a', 'none', 'unknown', 'test'. -#}
{% macro normalize_name(column) -%}
    {{ return(adapter.dispatch('normalize_name', 'cdp')(column)) }}
{%- endmacro %}

{% macro name_placeholders() -%}
    {{ return(['', 'N/A', 'NA', 'NONE', 'NULL', 'UNKNOWN', 'TEST', '-', '.', '?', 'XXX', 'ASDF']) }}
{%- endmacro %}

{% macro default__normalize_name(column) -%}
    {%- set squashed = "trim(" ~ cdp.regex_replace_all(column, '[[:space:]]+', ' ') ~ ")" -%}
    case
        when {{ cdp.is_one_of('upper(' ~ squashed ~ ')', cdp.name_placeholders()) }} then null
        else initcap(lower({{ squashed }}), ' -')
    end
{%- endmacro %}

{% macro duckdb__normalize_name(column) -%}
    {%- set squashed = "trim(" ~ cdp.regex_replace_all(column, '[[:space:]]+', ' ') ~ ")" -%}
    case
        when {{ cdp.is_one_of('upper(' ~ squashed ~ ')', cdp.name_placeholders()) }} then null
        else array_to_string(list_transform(string_split(lower({{ squashed }}), ' '),
            lambda word: array_to_string(list_transform(string_split(word, '-'),
                lambda part: upper(left(part, 1)) || substr(part, 2)), '-')), ' ')
    end
{%- endmacro %}

{#- First word of a full name ("Mary Ann Smith" -> "Mary"), and the rest as the
    last name; "Smith, Mary" is read as last name first. -#}
{% macro first_name_of(full_name) -%}
    case
        when {{ full_name }} like '%,%' then nullif(trim(split_part({{ full_name }}, ',', 2)), '')
        else split_part(trim({{ full_name }}), ' ', 1)
    end
{%- endmacro %}

{% macro last_name_of(full_name) -%}
    case
        when {{ full_name }} like '%,%' then nullif(trim(split_part({{ full_name }}, ',', 1)), '')
        when position(' ' in trim({{ full_name }})) > 0
            then nullif(trim(substr(trim({{ full_name }}), position(' ' in trim({{ full_name }})) + 1)), '')
    end
{%- endmacro %}
