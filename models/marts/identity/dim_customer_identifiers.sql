with

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

records as (

    select record_key, customer_id from {{ ref('dim_customer_records') }}

),

guards as (

    select identifier_type, identifier_value, is_linkable, block_reason
    from {{ ref('int_identity__identifier_guards') }}

),

final as (

    select
        records.customer_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        min(identifiers.source_table) as source_table,
        count(distinct identifiers.source_table) as source_count,
        count(*) as record_count,
        min(identifiers.observed_at) as first_seen_at,
        max(identifiers.observed_at) as last_seen_at,
        {{ cdp.bool_and("guards.is_linkable") }} as is_linkable
    from identifiers
    inner join records on records.record_key = identifiers.record_key
    inner join guards
        on guards.identifier_type = identifiers.identifier_type
        and guards.identifier_value = identifiers.identifier_value
    group by records.customer_id, identifiers.identifier_type, identifiers.identifier_value

)

select * from final
