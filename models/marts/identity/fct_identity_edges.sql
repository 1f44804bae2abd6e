{#- Every link considered between two records, with its kind, probability,
    weight and decision, and the customers its ends belong to: any merge (or
    non-merge) is explained by one query on this table.
    A view: the probabilities drift with term frequencies, so as a table it
    rewrote every edge (9.4M at 1M people, 44 s) on every run, for a table
    read only when someone asks why two records merged. -#}
{{ config(materialized='view') }}

with

decisions as (

    select * from {{ cdp.identity_ref('int_identity__edge_decisions') }}

),

splink as (

    select * from {{ cdp.identity_ref('int_identity__splink_edges') }}

),

records as (

    select record_key, customer_id from {{ ref('dim_customer_records') }}

),

final as (

    select
        {{ cdp.hash_key(['decisions.left_record_key', 'decisions.right_record_key', 'decisions.edge_kind']) }} as edge_id,
        decisions.left_record_key,
        decisions.right_record_key,
        left_records.customer_id as left_customer_id,
        right_records.customer_id as right_customer_id,
        decisions.edge_kind,
        decisions.edge_priority,
        decisions.match_probability,
        decisions.match_weight,
        splink.comparison_levels,
        decisions.decision,
        decisions.decision_reason
    from decisions
    left join splink
        on decisions.edge_kind = 'splink'
        and splink.left_record_key = decisions.left_record_key
        and splink.right_record_key = decisions.right_record_key
    left join records as left_records on left_records.record_key = decisions.left_record_key
    left join records as right_records on right_records.record_key = decisions.right_record_key

)

select * from final
