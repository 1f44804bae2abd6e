{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
) }}

{#- Merges and splits of customer_ids, appended once per run that causes them:
    `merge` when an old ID no longer exists because its records joined an older
    customer, `split` when records left an ID that still exists elsewhere. -#}
with

registry as (

    select * from {{ ref('int_identity__customer_id_registry') }}

),

changed as (

    select
        previous_customer_id as from_customer_id,
        customer_id as to_customer_id,
        assigned_at as changed_at,
        count(*) as record_count
    from registry
    where previous_customer_id is not null
      and previous_customer_id <> customer_id
      and assigned_at = {{ cdp.run_at() }}
    group by previous_customer_id, customer_id, assigned_at

),

surviving_ids as (

    select distinct customer_id from registry

),

final as (

    select
        changed.from_customer_id,
        changed.to_customer_id,
        case when surviving_ids.customer_id is null then 'merge' else 'split' end as change_type,
        changed.record_count,
        changed.changed_at
    from changed
    left join surviving_ids on surviving_ids.customer_id = changed.from_customer_id
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as logged
        where logged.from_customer_id = changed.from_customer_id
          and logged.to_customer_id = changed.to_customer_id
          and logged.changed_at = changed.changed_at
    )
    {% endif %}

)

select * from final
