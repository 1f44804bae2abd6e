{#- History of audience membership: a row per stay of a customer in an
    audience, opened when they enter (dbt_valid_from) and closed when they
    leave (dbt_valid_to, hard deletes invalidated). Ids only; rows of erased
    customers are deleted after each run like every other trace of them. -#}
{% snapshot audience_membership_snapshot %}

{{ config(
    unique_key='membership_key',
    strategy='check',
    check_cols=['audience_name', 'customer_id'],
    hard_deletes='invalidate',
    post_hook=[
        "delete from {{ this }} where customer_id in (select customer_id from {{ ref('erased_customers') }})",
    ],
) }}

with

audience_membership as (

    select * from {{ ref('audience_membership') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

final as (

    select audience_membership.*
    from audience_membership
    left join erased_customers
        on erased_customers.customer_id = audience_membership.customer_id
    where erased_customers.customer_id is null

)

select * from final

{% endsnapshot %}
