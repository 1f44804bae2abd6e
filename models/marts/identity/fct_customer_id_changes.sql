with

changes as (

    select * from {{ ref('int_identity__customer_id_changes') }}

),

final as (

    select
        {{ cdp.hash_key(['from_customer_id', 'to_customer_id', cdp.timestamp_text('changed_at')]) }} as change_id,
        from_customer_id,
        to_customer_id,
        change_type,
        record_count,
        changed_at
    from changes

)

select * from final
