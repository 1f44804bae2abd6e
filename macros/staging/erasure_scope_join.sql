{#- The erasure scope as a left join, for models that read a whole base view
    (the quarantine). `is_erased` is a correlated exists,
    which DuckDB plans as a mark join that serialises and hashes every base row
    before any filter; this join matches keyed rows by key and key-less rows by
    the hash of the row as landed (coalesce hashes only key-less rows). The
    scope is read with `distinct`, so the join cannot fan out. A row is erased
    when `<alias>.erased_row_id is not null`. Deletion requests are never
    erased (they are the legal record): no join, and `erased_row_id` is null. -#}
{% macro erasure_scope_join(source_table, key, rows_alias='base_rows', alias='erased') -%}
    {%- if source_table == 'deletion_requests' %}
    left join (select cast(null as {{ dbt.type_string() }}) as erased_row_id) as {{ alias }}
        on false
    {%- else %}
    left join (
        select distinct coalesce(source_record_id, raw_row_hash) as erased_row_id
        from {{ ref('stg_privacy__erasure_scope') }}
        where source_table = '{{ source_table }}'
    ) as {{ alias }}
        on {{ alias }}.erased_row_id = coalesce({{ rows_alias }}.{{ key }}, {{ cdp.hash_key([rows_alias ~ '._raw_row']) }})
    {%- endif %}
{%- endmacro %}
