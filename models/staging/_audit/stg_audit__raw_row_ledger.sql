{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    tmp_relation_type='transient' if target.type == 'snowflake' else none
) }}

{#- What the row accounting needs to know of every raw row, kept so that it
    is worked out once per row: the record it belongs to and whether staging
    can use it. One row per (table, record, load, usability) with the number
    of raw rows; a key-less row (never usable) is its own record, by the hash
    of the row as landed, as the erasure scope matches it. No personal data
    (keys and hashes).

    Why a ledger: the accounting used to read every base view, which
    normalises every raw row to find its quarantine reason: 43 node-s of an
    incremental run at 1M people, the same as a full build. Usability depends
    on the row alone and raw tables are append-only, so an incremental run
    adds only the rows landed after the newest `_loaded_at` held (a literal,
    which reaches the raw scan). Erasure is not recorded here: it changes old
    rows, so the accounting joins the scope when it counts. The ledger is not
    the staging tables or the quarantine, so the accounting stays an
    independent check of both; a row the ledger lost shows up there too (its
    raw count comes from the raw table). A changed quarantine rule needs a
    --full-refresh, as the quarantine does. -#}

{#- Runs after the quarantine, where the row accounting used to read the base
    views: its first build aggregates every raw row, and beside the identifier
    index's (both at the start of a full build) DuckDB ran out of its 3 GB at
    1M people. -#}
-- depends_on: {{ ref('stg_audit__quarantine') }}
{%- set watermark = cdp.incremental_watermark_literal() if is_incremental() else none %}

with

{% for s in cdp.staging_inventory() %}
{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        {{ cdp.raw_record_id(s.key, cdp.hash_key(['_raw_row'])) }} as row_id,
        _loaded_at,
        _quarantine_reason is null as is_usable
    from {{ ref(s.base) }}
    {%- if is_incremental() %}
    where _loaded_at > {{ watermark }}
    {%- endif %}

),

{% endfor %}
unioned as (

    {% for s in cdp.staging_inventory() %}
    select * from {{ s.table }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_table,
        row_id,
        _loaded_at,
        is_usable,
        count(*) as raw_rows,
        {{ cdp.run_at() }} as _written_at
    from unioned
    group by source_table, row_id, _loaded_at, is_usable

)

select * from final
