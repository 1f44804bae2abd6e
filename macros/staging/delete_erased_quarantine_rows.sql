{#- Post-hook of the incremental quarantine: delete the rows erased since the
    last run. The quarantine only inserts rows landed after its newest
    `_loaded_at`, so without this a row quarantined before its deletion request
    arrived would stay. Matches like `is_erased`: on (source_table, key), or on
    the hash of the raw row for a row without a key (the quarantine's `raw_row`
    is the base view's `_raw_row`, so the hash is the one the scope holds). The
    table name has no ':', so the concatenation is unambiguous. -#}
{% macro delete_erased_quarantine_rows() -%}
    delete from {{ this }}
    where source_table || ':' || coalesce(source_record_id, {{ cdp.hash_key(['raw_row']) }}) in (
        select source_table || ':' || coalesce(source_record_id, raw_row_hash)
        from {{ ref('stg_privacy__erasure_scope') }}
    )
{%- endmacro %}
