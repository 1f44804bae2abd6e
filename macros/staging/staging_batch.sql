{#- The base rows an incremental staging model reads. A full build reads the
    whole base view. An incremental run reads every version of each key that
    has a raw row landed after the newest `_loaded_at` the table holds (or,
    where the first delivery wins, only the new rows of keys not yet held) (a new
    record, a redelivery, a new version, a late arrival) and ranks those
    versions among themselves: the batch holds all versions of its keys, so
    that is their rank among all rows of the key. Not referencing the base
    view's own `_version_rank` prunes its window over the whole table, and the
    `_loaded_at` filter reaches the raw scan, so only the new rows and the
    older versions of their keys are normalised. delete+insert on the key then
    replaces the staged version. Keys erased since the last run are removed by
    `delete_erased_records` (a post-hook). Assumes loaders land rows with a
    `_loaded_at` later than what was already landed (true of every batch
    loader); a back-dated row needs a --full-refresh. -#}
{% macro staging_batch(source_table) -%}
    {%- set s = cdp.staging_inventory() | selectattr('table', 'equalto', source_table) | first -%}
    {%- if is_incremental() and s.version_order == '_loaded_at asc' %}
    {#- The first usable delivery wins (Segment's redeliveries): a key the
        table holds keeps its row (a later delivery can never precede it, and
        an erased key stays erased), so the batch is the new rows of new keys
        only. Every filter here reaches the raw scan: only new rows are
        normalised, where re-reading the older versions of the batch's keys
        would normalise the whole table before the semi-join. -#}
    select
        * exclude (_version_rank),
        {{ cdp.version_rank(s.key, s.version_order) }} as _version_rank
    from {{ ref(s.base) }}
    where _loaded_at > {{ cdp.incremental_watermark() }}
      and {{ s.key }} not in (select {{ s.key }} from {{ this }})
    {%- elif is_incremental() %}
    select
        * exclude (_version_rank),
        {{ cdp.version_rank(s.key, s.version_order) }} as _version_rank
    from {{ ref(s.base) }}
    where {{ s.key }} in (
        select {{ s.key }}
        from {{ ref(s.base) }}
        where _loaded_at > {{ cdp.incremental_watermark() }}
    )
    {%- else %}
    select * from {{ ref(s.base) }}
    {%- endif %}
{%- endmacro %}
