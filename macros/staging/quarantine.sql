{#- Staging splits every raw row three ways: the current version of a usable
    record (staged), an older version of the same key (superseded), or a row
    that cannot be used (quarantined, with a reason). Base models compute
    `_quarantine_reason`, staging ranks versions (`staging_batch`); these
    macros keep the staging filter and the version order in one place. -#}

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
    erased whatever else is true of it, and is never staged or quarantined.
    For staged rows, which always have their key (a missing key quarantines
    the row), this is an anti-join on (source_table, key): the query never
    needs `_raw_row`, and the base view never builds the row's JSON. Key-less
    rows are matched by the hash of the raw row where they are counted: in
    the quarantine (`erasure_scope_join`) and the row accounting
    (`raw_record_id`). -#}
{% macro is_erased(source_table) -%}
    {%- if source_table == 'deletion_requests' -%}
    {#- requests are the legal record of the erasure: kept, with identifiers hashed in staging -#}
    false
    {%- else -%}
    {%- set key = cdp.staging_inventory() | selectattr('table', 'equalto', source_table) | map(attribute='key') | first -%}
    exists (
        select 1 from {{ ref('stg_privacy__erasure_scope') }} as erasure_scope
        where erasure_scope.source_table = '{{ source_table }}'
          and erasure_scope.source_record_id = {{ key }}
    )
    {%- endif -%}
{%- endmacro %}

{% macro is_staged(source_table) -%}
    (_quarantine_reason is null and _version_rank = 1 and not {{ cdp.is_erased(source_table) }})
{%- endmacro %}

