{#- High-intent browsers: at least `cdp_high_intent_min_views` product views in
    one category within the last `cdp_high_intent_lookback_days` days, and no
    order placed (shop or `Order Completed` event) in that window. For an
    internal service (webhook), not an email tool: no email-consent filter, but
    the audience is built from browsing, so anyone who refused analytics is
    left out. The category with the most views (then the latest) is the
    intent category. -#}
{%- set run_at = cdp.run_at() -%}
{%- set min_views = var('cdp_high_intent_min_views', 3) -%}
{%- set lookback_days = var('cdp_high_intent_lookback_days', 7) -%}

with

profiles as (

    select * from {{ ref('customer_profiles') }}

),

events as (

    select * from {{ ref('fct_events') }}
    where customer_id is not null
      and event_at <= {{ run_at }}
      and event_at > {{ dbt.dateadd('day', -lookback_days, run_at) }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where customer_id is not null
      and is_placed
      and ordered_at <= {{ run_at }}
      and ordered_at > {{ dbt.dateadd('day', -lookback_days, run_at) }}

),

category_views as (

    select
        customer_id,
        product_category,
        count(*) as category_views,
        max(event_at) as last_viewed_at
    from events
    where event_name = 'Product Viewed'
      and product_category is not null
    group by customer_id, product_category
    having count(*) >= {{ min_views }}

),

intent as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by category_views desc, last_viewed_at desc nulls last, product_category
        ) as intent_rank
    from category_views

),

recent_purchasers as (

    select customer_id from orders
    union
    select customer_id from events where event_name = 'Order Completed'

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
        intent.product_category as intent_category,
        cast(intent.category_views as integer) as intent_category_views,
        intent.last_viewed_at,
        profiles.engagement_score,

        ----------  consent
        profiles.email_marketing_consent,
        profiles.sms_marketing_consent,
        profiles.advertising_consent

    from profiles
    inner join intent
        on intent.customer_id = profiles.customer_id
        and intent.intent_rank = 1
    left join recent_purchasers
        on recent_purchasers.customer_id = profiles.customer_id
    where recent_purchasers.customer_id is null
      and profiles.analytics_consent

)

select * from final
