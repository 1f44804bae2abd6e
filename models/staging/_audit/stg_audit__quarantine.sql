{{ config(materialized='table') }}

{#- Every raw row staging could not use, with the reason and the row as landed.
    Holds personal data: erasure scrubs it like any other model. -#}
with

{% for s in cdp.staging_inventory() %}
{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        {{ s.key }} as source_record_id,
        _quarantine_reason as quarantine_reason,
        _raw_row as raw_row,
        _loaded_at
    from {{ ref(s.base) }}
    where {{ cdp.is_quarantined(s.table) }}

),
{% endfor %}

unioned as (

    {% for s in cdp.staging_inventory() %}
    select * from {{ s.table }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

numbered as (

    -- a loader can land the very same bad row twice; both copies are kept
    select
        *,
        row_number() over (
            partition by source_table, raw_row, _loaded_at order by source_record_id
        ) as copy_number
    from unioned

),

final as (

    select
        {{ cdp.hash_key(['source_table', 'raw_row', '_loaded_at', 'copy_number']) }} as quarantine_row_id,
        source_table,
        source_record_id,
        quarantine_reason,
        raw_row,
        _loaded_at
    from numbered

)

select * from final
