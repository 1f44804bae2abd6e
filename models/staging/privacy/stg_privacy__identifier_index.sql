{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    tmp_relation_type='transient' if target.type == 'snowflake' else none
) }}

{#- Every identifier any raw record has ever carried, hashed: what the erasure
    scope searches. One row per (record, identifier type, identifier value)
    over all versions of the record; a key-less row (always quarantined) is
    its own record, identified by the hash of the row as landed.

    Why an index: the scope must see every raw row's identifiers across
    sources, before staging. Reading them through the base views normalised
    all 13.5M raw rows on every run at 1M people (71 node-s of an incremental
    run). Raw tables are append-only and a row's identifiers depend on the row
    alone, so an incremental run adds only the rows landed after the newest
    `_loaded_at` it holds (a literal: it reaches the raw scan now that the
    base views hold no window), and only the identifiers not indexed yet.

    Values are md5 hashes, and whether a value is on the blocklist is decided
    here: the index keeps the identifiers of erased records too (the next
    run's scope must find them again), so it holds no readable personal data.
    A changed normalisation macro, blocklist or source list needs a
    --full-refresh, as the incremental staging models do. -#}

{%- set watermark = cdp.incremental_watermark_literal() if is_incremental() else none %}

with

{% for s in cdp.staging_inventory() if s.identifiers %}
{{ s.table }}_rows as (

    select
        '{{ s.table }}' as source_table,
        {{ s.key }} as source_record_id,
        {#- `_raw_row` is built for quarantined rows only, which every key-less row is #}
        case when {{ s.key }} is null then {{ cdp.hash_key(['_raw_row']) }} end as raw_row_hash,
        {{ s.identifiers | join(', ') }},
        _loaded_at
    from {{ ref(s.base) }}
    {%- if is_incremental() %}
    where _loaded_at > {{ watermark }}
    {%- endif %}

),

{{ s.table }}_identifiers as (

    select
        source_table,
        source_record_id,
        raw_row_hash,
        identifier_types.identifier_type,
        case identifier_types.identifier_type
            {%- for column in s.identifiers %}
            when '{{ 'email' if column == 'traits_email' else column }}' then {{ column }}
            {%- endfor %}
        end as identifier_value,
        _loaded_at
    from {{ s.table }}_rows
    cross join (
        {%- for column in s.identifiers %}
        select '{{ 'email' if column == 'traits_email' else column }}' as identifier_type
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as identifier_types

),

{% endfor %}
unioned as (

    {% for s in cdp.staging_inventory() if s.identifiers %}
    select * from {{ s.table }}_identifiers where identifier_value is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

indexed as (

    select
        source_table,
        source_record_id,
        raw_row_hash,
        {{ cdp.raw_record_id('source_record_id', 'raw_row_hash') }} as row_id,
        identifier_type,
        {{ cdp.hash_key(['identifier_value']) }} as identifier_hash,
        {{ cdp.is_blocklisted_identifier('identifier_type', 'identifier_value') }} as is_blocklisted,
        min(_loaded_at) as _loaded_at,
        {{ cdp.run_at() }} as _written_at
    from unioned
    group by source_table, source_record_id, raw_row_hash, identifier_type, identifier_value

),

final as (

    select * from indexed
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as held
        where held.source_table = indexed.source_table
          and held.row_id = indexed.row_id
          and held.identifier_type = indexed.identifier_type
          and held.identifier_hash = indexed.identifier_hash
    )
    {%- endif %}

)

{#- Stored by identifier type: the erasure scope scans this table nine times
    per run, each for some types only (the hop search skips the anonymous ids,
    half the rows; the device steps read only them), so the scans skip whole
    row groups on their zone maps. Order only: a warehouse built before keeps
    working, a --full-refresh of this model gives it the faster layout. -#}
select * from final
order by identifier_type, source_table
