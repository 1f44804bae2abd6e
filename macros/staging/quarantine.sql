{#- Staging splits every raw row three ways: the current version of a usable
    record (staged), an older version of the same key (superseded), or a row
    that cannot be used (quarantined, with a reason). Base models compute
    `_quarantine_reason` and `_version_rank`; these macros keep the three
    filters identical everywhere so the row accounting can trust them. -#}

{#- Rank versions of one key: usable rows first, then the newest. -#}
{% macro version_rank(key, order_by) -%}
    row_number() over (
        partition by {{ key }}
        order by case when _quarantine_reason is null then 0 else 1 end, {{ order_by }}
    )
{%- endmacro %}

{% macro is_staged() -%}
    (_quarantine_reason is null and _version_rank = 1)
{%- endmacro %}

{% macro is_superseded() -%}
    (_quarantine_reason is null and _version_rank > 1)
{%- endmacro %}

{% macro is_quarantined() -%}
    (_quarantine_reason is not null)
{%- endmacro %}
