{#- Staging splits every raw row three ways: the current version of a usable
    record (staged), an older version of the same key (superseded), or a row
    that cannot be used (quarantined, with a reason). Base models compute
    `_quarantine_reason` and `_version_rank`; these macros keep the three
    filters identical everywhere so the row accounting can trust them. -#}

{#- Rank versions of one key: usable rows first, then the newest. Every term
    of `order_by` without its own NULLS clause gets NULLS LAST: DuckDB's default,
    while Snowflake puts nulls first in a descending sort. -#}
{% macro version_rank(key, order_by) -%}
    {%- set terms = [] -%}
    {%- for term in order_by.split(',') -%}
        {%- do terms.append(term | trim if 'nulls' in term | lower else (term | trim) ~ ' nulls last') -%}
    {%- endfor -%}
    row_number() over (
        partition by {{ key }}
        order by case when _quarantine_reason is null then 0 else 1 end, {{ terms | join(', ') }}
    )
{%- endmacro %}

{#- Erasure comes first: a row covered by an erasure request is counted as
    erased whatever else is true of it, and is never staged or quarantined. -#}
{% macro is_erased(source_table) -%}
    {%- if source_table == 'deletion_requests' -%}
    {#- requests are the legal record of the erasure: kept, with identifiers hashed in staging -#}
    false
    {%- else -%}
    exists (
        select 1 from {{ ref('stg_privacy__erasure_scope') }} as erasure_scope
        where erasure_scope.source_table = '{{ source_table }}'
          and erasure_scope.raw_row_hash = {{ cdp.hash_key(['_raw_row']) }}
    )
    {%- endif -%}
{%- endmacro %}

{% macro is_staged(source_table) -%}
    (_quarantine_reason is null and _version_rank = 1 and not {{ cdp.is_erased(source_table) }})
{%- endmacro %}

{% macro is_superseded(source_table) -%}
    (_quarantine_reason is null and _version_rank > 1 and not {{ cdp.is_erased(source_table) }})
{%- endmacro %}

{% macro is_quarantined(source_table) -%}
    (_quarantine_reason is not null and not {{ cdp.is_erased(source_table) }})
{%- endmacro %}
