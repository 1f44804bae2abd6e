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
    The erasure scope is keyed by (source_table, primary key), so this is an
    anti-join on the key; only a row without a key (always quarantined) is
    matched by a hash of the raw row. Usable rows always have their key (a
    missing key quarantines the row), so `keyed_only=true` skips the hash
    branch: the query then never needs `_raw_row`, and the base view never
    builds the row's JSON. -#}
{% macro is_erased(source_table, keyed_only=false) -%}
    {%- if source_table == 'deletion_requests' -%}
    {#- requests are the legal record of the erasure: kept, with identifiers hashed in staging -#}
    false
    {%- else -%}
    {%- set key = cdp.staging_inventory() | selectattr('table', 'equalto', source_table) | map(attribute='key') | first -%}
    exists (
        select 1 from {{ ref('stg_privacy__erasure_scope') }} as erasure_scope
        where erasure_scope.source_table = '{{ source_table }}'
        {%- if keyed_only %}
          and erasure_scope.source_record_id = {{ key }}
        {%- else %}
          {#- one equality (a hash join, and one correlated EXISTS, as Snowflake
              requires); coalesce reads `_raw_row` only for a key-less row. A key
              equal to another row's md5 is not a realistic collision. -#}
          and coalesce(erasure_scope.source_record_id, erasure_scope.raw_row_hash)
              = coalesce({{ key }}, {{ cdp.hash_key(['_raw_row']) }})
        {%- endif %}
    )
    {%- endif -%}
{%- endmacro %}

{% macro is_staged(source_table) -%}
    (_quarantine_reason is null and _version_rank = 1 and not {{ cdp.is_erased(source_table, keyed_only=true) }})
{%- endmacro %}

