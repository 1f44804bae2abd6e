{{ config(
    materialized='incremental',
    unique_key='quarantine_row_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_quarantine_rows() }}"
) }}

{#- Every raw row staging could not use, with the reason and the row as landed.
    Holds personal data: erasure scrubs it like any other model.

    Incremental: whether a row is quarantined depends on the row alone
    (`_quarantine_reason` reads no other row), and raw tables are append-only,
    so an incremental run only reads the rows landed after the newest
    `_loaded_at` the table holds (a literal, which reaches the raw scan: the
    base views hold no window). A new version of
    a key never changes an old row's quarantine status. Copies of one bad row
    share their `_loaded_at`, so they are numbered within one batch. The one
    change to old rows, an erasure, is applied by the post-hook
    `delete_erased_quarantine_rows`. A changed quarantine rule, a back-dated
    load or a withdrawn deletion request needs a --full-refresh. -#}
{%- set watermark = cdp.incremental_watermark_literal() if is_incremental() else none %}

with

{#- `_quarantine_reason is not null and not is_erased`,
    written with the left join `erasure_scope_join` (why: see the macro). -#}
{% for s in cdp.staging_inventory() %}
{{ s.table }} as (

    select
        '{{ s.table }}' as source_table,
        base_rows.{{ s.key }} as source_record_id,
        base_rows._quarantine_reason as quarantine_reason,
        base_rows._raw_row as raw_row,
        base_rows._loaded_at
    from {{ ref(s.base) }} as base_rows
    {{ cdp.erasure_scope_join(s.table, s.key) }}
    where base_rows._quarantine_reason is not null
      and erased.erased_row_id is null
    {%- if is_incremental() %}
      and base_rows._loaded_at > {{ watermark }}
    {%- endif %}

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
