with

customers as (

    select * from {{ ref('base_shop__customers') }}

),

final as (

    select
        ----------  ids
        shop_customer_id,
        'shop_customers:' || shop_customer_id as record_key,

        ----------  contact points
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,

        ----------  person
        first_name,
        last_name,

        ----------  address
        street,
        city,
        postal_code,
        country_code,

        ----------  marketing
        accepts_email_marketing,

        ----------  timestamps
        created_at,
        updated_at,
        _loaded_at

    from customers
    where {{ cdp.is_staged('shop_customers') }}

)

select * from final
