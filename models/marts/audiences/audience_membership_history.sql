{#- Who entered and left which audience and when, read from
    `audience_membership_snapshot`: one row per stay. entered_at/left_at are
    the times of the builds that first saw the customer in the audience and
    first saw them out of it (left_at is null while they are in). -#}
with

membership_snapshot as (

    select * from {{ ref('audience_membership_snapshot') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

final as (

    select
        membership_snapshot.dbt_scd_id as membership_stay_id,
        membership_snapshot.audience_name,
        membership_snapshot.customer_id,
        membership_snapshot.channel,
        cast(membership_snapshot.dbt_valid_from as timestamp) as entered_at,
        cast(membership_snapshot.dbt_valid_to as timestamp) as left_at,
        membership_snapshot.dbt_valid_to is null as is_current
    from membership_snapshot
    left join erased_customers
        on erased_customers.customer_id = membership_snapshot.customer_id
    where erased_customers.customer_id is null

)

select * from final
