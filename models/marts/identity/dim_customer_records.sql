with

nodes as (

    select * from {{ ref('int_identity__nodes') }}

),

registry as (

    select * from {{ ref('int_identity__customer_id_registry') }}

),

clusters as (

    select * from {{ ref('int_identity__clusters') }}

),

final as (

    select
        nodes.record_key,
        nodes.source_table,
        nodes.source_record_id,
        registry.customer_id,
        clusters.cluster_key,
        nodes.observed_at
    from nodes
    inner join clusters on clusters.record_key = nodes.record_key
    inner join registry on registry.record_key = nodes.record_key

)

select * from final
