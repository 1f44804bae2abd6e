{#- Cart abandoners: added a product to the cart in the last
    `cdp_cart_abandonment_window_hours` hours, and placed no order (any status
    but cancelled, in the shop or as an `Order Completed` event) at or after
    their latest add. Behavioural and for email (HubSpot): only people with an
    email, granted email-marketing consent and analytics not refused. -#}
{%- set run_at = cdp.run_at() -%}
{%- set window_hours = var('cdp_cart_abandonment_window_hours', 24) -%}

with

profiles as (

    select * from {{ ref('customer_profiles') }}

),

events as (

    select * from {{ ref('fct_events') }}
    where customer_id is not null
      and event_at <= {{ run_at }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where customer_id is not null
      and is_placed
      and ordered_at <= {{ run_at }}

),

cart_adds as (

    select
        customer_id,
        product_sku,
        product_category,
        product_price,
        event_at,
        row_number() over (partition by customer_id order by event_at desc nulls last, message_id) as recency_rank
    from events
    where event_name = 'Product Added'
      and event_at > {{ dbt.dateadd('hour', -window_hours, run_at) }}

),

carts as (

    select
        customer_id,
        max(event_at) as last_cart_add_at,
        count(*) as cart_adds,
        sum(product_price) as cart_value,
        max(case when recency_rank = 1 then product_sku end) as last_added_sku,
        max(case when recency_rank = 1 then product_category end) as last_added_category
    from cart_adds
    group by customer_id

),

purchases_since as (

    select carts.customer_id
    from carts
    inner join orders
        on orders.customer_id = carts.customer_id
        and orders.ordered_at >= carts.last_cart_add_at
    union
    select carts.customer_id
    from carts
    inner join events
        on events.customer_id = carts.customer_id
        and events.event_name = 'Order Completed'
        and events.event_at >= carts.last_cart_add_at

),

final as (

    select
        ----------  ids
        profiles.customer_id,

        ----------  contact
        profiles.email,
        profiles.phone,
        profiles.first_name,
        profiles.last_name,
        profiles.country_code,

        ----------  key traits
        profiles.lifetime_value,
        profiles.order_count,
        profiles.last_order_at,
        carts.last_cart_add_at,
        cast(carts.cart_adds as integer) as cart_adds,
        cast(carts.cart_value as double) as cart_value,
        carts.last_added_sku,
        carts.last_added_category,

        ----------  consent
        profiles.email_marketing_consent,
        profiles.sms_marketing_consent

    from profiles
    inner join carts
        on carts.customer_id = profiles.customer_id
    left join purchases_since
        on purchases_since.customer_id = profiles.customer_id
    where purchases_since.customer_id is null
      and profiles.email is not null
      and profiles.email_marketing_consent
      and profiles.analytics_consent

)

select * from final
