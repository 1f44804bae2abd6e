{{ config(materialized='table') }}

{#- Where every raw row went: raw = staged + superseded + quarantined + erased. The
    counts come from the raw table, the staging model and the quarantine
    independently, so a staging model that loses a row shows up here as
    `unaccounted_rows` and fails its test. -#}
with

{% for s in cdp.staging_inventory() %}
{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        (select count(*) from {{ source(s.source, s.table) }}) as raw_rows,
        (select count(*) from {{ ref(s.staged) }}) as staged_rows,
        (select count(*) from {{ ref(s.base) }} where {{ cdp.is_superseded(s.table) }}) as superseded_rows,
        (select count(*) from {{ ref('stg_audit__quarantine') }} where source_table = '{{ s.table }}') as quarantined_rows,
        (select count(*) from {{ ref(s.base) }} where {{ cdp.is_erased(s.table) }}) as erased_rows

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
