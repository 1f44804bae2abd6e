{{ config(
    materialized='incremental',
    unique_key='record_key',
    incremental_strategy='delete+insert',
    full_refresh=false,
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
) }}

{#- The memory of customer_ids: record_key -> customer_id as last assigned.
    It survives `--full-refresh` (full_refresh=false) and rebuilds, so IDs are
    stable across runs and retraining:
    - a cluster keeps an ID its records carried before; when clusters merge,
      the oldest ID survives;
    - when a cluster splits, each old ID stays with the part holding most of
      its records, and the other parts get new IDs derived from the old ID and
      their smallest record_key (deterministic, never random);
    - a cluster of new records gets an ID derived from its smallest record_key.
    Records no longer present keep their last row (their ID is history), and
    so do records whose assignment did not change. -#}

with

clusters as (

    select record_key, cluster_key from {{ ref('int_identity__clusters') }}

),

previous as (

    {% if is_incremental() %}
    select record_key, customer_id, customer_id_created_at from {{ this }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as record_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as timestamp) as customer_id_created_at
    where 1 = 0
    {% endif %}

),

overlap as (

    select
        clusters.cluster_key,
        previous.customer_id as previous_customer_id,
        count(*) as shared_records,
        min(previous.customer_id_created_at) as customer_id_created_at
    from clusters
    inner join previous on previous.record_key = clusters.record_key
    group by clusters.cluster_key, previous.customer_id

),

claims as (

    -- an old ID stays with the cluster that holds most of its records
    select * from (
        select
            *,
            row_number() over (
                partition by previous_customer_id order by shared_records desc, cluster_key
            ) as claim_rank
        from overlap
    ) as ranked
    where claim_rank = 1

),

survivors as (

    -- of the IDs a cluster claims, the oldest survives
    select * from (
        select
            cluster_key,
            previous_customer_id as customer_id,
            customer_id_created_at,
            row_number() over (
                partition by cluster_key order by customer_id_created_at, previous_customer_id
            ) as survivor_rank
        from claims
    ) as ranked
    where survivor_rank = 1

),

split_from as (

    -- a cluster that claims nothing but holds records of an old ID split off it
    select * from (
        select
            cluster_key,
            previous_customer_id,
            row_number() over (
                partition by cluster_key order by shared_records desc, previous_customer_id
            ) as parent_rank
        from overlap
    ) as ranked
    where parent_rank = 1

),

assigned as (

    select
        cluster_keys.cluster_key,
        coalesce(
            survivors.customer_id,
            'cus_' || left(md5(coalesce(split_from.previous_customer_id, '') || '|' || cluster_keys.cluster_key), 20)
        ) as customer_id,
        coalesce(survivors.customer_id_created_at, {{ cdp.run_at() }}) as customer_id_created_at
    from (select distinct cluster_key from clusters) as cluster_keys
    left join survivors on survivors.cluster_key = cluster_keys.cluster_key
    left join split_from on split_from.cluster_key = cluster_keys.cluster_key

),

final as (

    select
        clusters.record_key,
        assigned.customer_id,
        assigned.customer_id_created_at,
        previous.customer_id as previous_customer_id,
        {{ cdp.run_at() }} as assigned_at
    from clusters
    inner join assigned on assigned.cluster_key = clusters.cluster_key
    left join previous on previous.record_key = clusters.record_key
    {% if is_incremental() -%}
    -- only records whose assignment changed (or that are new) are rewritten:
    -- rewriting all of them (3.3M at 1M people) took most of the run's 11 s
    where previous.customer_id is distinct from assigned.customer_id
        or previous.customer_id_created_at is distinct from assigned.customer_id_created_at
    {%- endif %}

)

select * from final
