{{ config(materialized='table') }}

{#- Where every raw row went: raw = staged + superseded + quarantined + erased. The
    counts come from the raw table, the staging model, the quarantine and one
    pass over the base view independently, so a staging model that loses a row
    shows up here as `unaccounted_rows` and fails its test.

    The base view is read once per table, for the two buckets no table holds
    (superseded and erased), and nothing else reads the raw table's rows.
    Superseded rows are counted without the version window: usable rows (not
    quarantined, not erased) always have a key and rank before a key's other
    rows, so a key's usable rows are ranks 1..n and n - 1 of them are
    superseded; the total is usable rows minus distinct usable keys. The
    window is then pruned from the base view, a hash aggregate instead of a
    sort of every row. Erasure is a left join on the scope, keyed rows by key
    and key-less rows by the hash of the row as landed (coalesce hashes only
    key-less rows, `_raw_row` is serialised for quarantined rows only), as the
    quarantine joins it: one pass, where a correlated exists (`is_erased`,
    which DuckDB plans as a mark join) and a second scan for key-less rows
    cost 31 CPU s at 1M people (docs/benchmarks.md). -#}
with

{% for s in cdp.staging_inventory() %}
{{ s.table }}_split as (

    select
        {#- usable = not quarantined and not erased; usable rows always have a key -#}
        {%- set usable = 'erased.erased_row_id is null and _quarantine_reason is null' %}
        count(case when {{ usable }} then 1 end)
        - count(distinct case when {{ usable }} then base_rows.{{ s.key }} end) as superseded_rows,
        count(erased.erased_row_id) as erased_rows
    from {{ ref(s.base) }} as base_rows
    {{ cdp.erasure_scope_join(s.table, s.key) }}

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
