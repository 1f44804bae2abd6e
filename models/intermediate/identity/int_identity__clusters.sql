{{ config(materialized='connected_components', edges_left='left_record_key', edges_right='right_record_key') }}

{#- Connected components of the accepted edges: every node gets the smallest
    record_key of its component as `cluster_key`. The materialization runs
    min-label propagation in plain SQL until nothing changes, so the same step
    runs on DuckDB and Snowflake. The model's query lists nodes and edges. -#}
with

nodes as (

    select record_key from {{ ref('int_identity__nodes') }}

),

accepted_edges as (

    select left_record_key, right_record_key
    from {{ cdp.identity_ref('int_identity__edge_decisions') }}
    where decision = 'accepted'

),

final as (

    select record_key as left_record_key, record_key as right_record_key from nodes
    union all
    select left_record_key, right_record_key from accepted_edges

)

select * from final
