{#- Records sharing an identifier value are linked. Each value links its
    records as a star around the smallest record_key: n-1 edges instead of
    n*(n-1)/2 pairs, and the same connected components. Edges of values the
    guards block are kept with their reason, so every link that was not made
    can be explained too. -#}
with

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

guards as (

    select * from {{ ref('int_identity__identifier_guards') }}

),

distinct_records as (

    select distinct identifier_type, identifier_value, record_key
    from identifiers

),

anchored as (

    select
        identifier_type,
        identifier_value,
        record_key,
        min(record_key) over (partition by identifier_type, identifier_value) as anchor_record_key
    from distinct_records

),

final as (

    select
        anchored.anchor_record_key as left_record_key,
        anchored.record_key as right_record_key,
        anchored.identifier_type as edge_kind,
        anchored.identifier_type,
        anchored.identifier_value,
        guards.identifier_priority as edge_priority,
        cast(1.0 as double) as match_probability,
        cast(null as double) as match_weight,
        guards.is_linkable,
        guards.block_reason
    from anchored
    inner join guards
        on guards.identifier_type = anchored.identifier_type
        and guards.identifier_value = anchored.identifier_value
    where anchored.record_key <> anchored.anchor_record_key

)

select * from final
