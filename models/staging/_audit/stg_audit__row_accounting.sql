{{ config(materialized='table') }}

{#- Where every raw row went: raw = staged + superseded + quarantined + erased. The
    counts come from the raw table, the staging model, the quarantine and the
    ledger of raw rows (stg_audit__raw_row_ledger) independently, so a staging
    model that loses a row shows up here as `unaccounted_rows` and fails its
    test.

    The ledger gives the two buckets no table holds. Superseded rows are
    usable rows (not quarantined, not erased; they always have a key) minus
    distinct usable keys: a key's usable rows are ranks 1..n, and n - 1 of them
    are superseded. Erased rows are those whose record (key, or row hash for a
    key-less row, as the quarantine matches them) is in the erasure scope,
    joined here because an erasure changes old rows. Deletion requests are
    never erased (they are the legal record). -#}
with

ledger as (

    select * from {{ ref('stg_audit__raw_row_ledger') }}

),

erased_records as (

    select distinct
        source_table,
        {{ cdp.raw_record_id('source_record_id', 'raw_row_hash') }} as row_id
    from {{ ref('stg_privacy__erasure_scope') }}

),

split as (

    select
        ledger.source_table,
        {%- set usable = 'erased_records.row_id is null and ledger.is_usable' %}
        coalesce(sum(case when {{ usable }} then ledger.raw_rows end), 0)
        - count(distinct case when {{ usable }} then ledger.row_id end) as superseded_rows,
        coalesce(sum(case when erased_records.row_id is not null then ledger.raw_rows end), 0) as erased_rows
    from ledger
    left join erased_records
        on erased_records.source_table = ledger.source_table
        and erased_records.row_id = ledger.row_id
        and ledger.source_table <> 'deletion_requests'
    group by ledger.source_table

),

{% for s in cdp.staging_inventory() %}
{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        (select count(*) from {{ source(s.source, s.table) }}) as raw_rows,
        (select count(*) from {{ ref(s.staged) }}) as staged_rows,
        coalesce((select superseded_rows from split where source_table = '{{ s.table }}'), 0) as superseded_rows,
        (select count(*) from {{ ref('stg_audit__quarantine') }} where source_table = '{{ s.table }}')
            as quarantined_rows,
        coalesce((select erased_rows from split where source_table = '{{ s.table }}'), 0) as erased_rows

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
        raw_rows,
        staged_rows,
        superseded_rows,
        quarantined_rows,
        erased_rows,
        raw_rows - staged_rows - superseded_rows - quarantined_rows - erased_rows as unaccounted_rows
    from unioned

)

select * from final
