{{ config(materialized='table') }}

{#- Where every raw row went: raw = staged + superseded + quarantined + erased. The
    counts come from the raw table, the staging model, the quarantine and one
    pass over the base view independently, so a staging model that loses a row
    shows up here as `unaccounted_rows` and fails its test.

    The base view is read once per table, for the two buckets no table holds
    (superseded and erased): only the columns the version window needs are
    computed, never the row's JSON. Erasure is a left join on the scope's key
    (unique per table and key, so no fan-out) rather than `is_erased`'s
    correlated exists, which Snowflake allows in a WHERE clause only. Key-less
    rows, the one case matched by row hash, are counted on their own: the
    `is null` filter on the window's partition key reaches the raw scan, so
    only those rows are serialised and hashed. -#}
with

erasure_scope as (

    select * from {{ ref('stg_privacy__erasure_scope') }}
    where source_record_id is not null

),

{% for s in cdp.staging_inventory() %}
{{ s.table }}_split as (

    select
        {%- if s.table == 'deletion_requests' %}
        count(case when _quarantine_reason is null and _version_rank > 1 then 1 end) as superseded_rows,
        0 as erased_rows
        {%- else %}
        count(case
            when erased.source_record_id is null and _quarantine_reason is null and _version_rank > 1 then 1
        end) as superseded_rows,
        count(erased.source_record_id) as erased_rows
        {%- endif %}
    from {{ ref(s.base) }} as base_rows
    {%- if s.table != 'deletion_requests' %}
    left join erasure_scope as erased
        on erased.source_table = '{{ s.table }}'
        and erased.source_record_id = base_rows.{{ s.key }}
    {%- endif %}

),

{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        (select count(*) from {{ source(s.source, s.table) }}) as raw_rows,
        (select count(*) from {{ ref(s.staged) }}) as staged_rows,
        {{ s.table }}_split.superseded_rows,
        (select count(*) from {{ ref('stg_audit__quarantine') }} where source_table = '{{ s.table }}')
            as quarantined_rows,
        {{ s.table }}_split.erased_rows
        {%- if s.table != 'deletion_requests' %}
        + (select count(*) from {{ ref(s.base) }} where {{ s.key }} is null and {{ cdp.is_erased(s.table) }})
        {%- endif %} as erased_rows
    from {{ s.table }}_split

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
