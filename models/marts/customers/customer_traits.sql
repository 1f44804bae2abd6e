{#- Computed traits, one row per (non-erased) customer, as of the run time
    `cdp.run_at()`. Facts after the run time are ignored, so a pinned clock gives
    the same traits on any day. Definitions and scoring methods:
    docs/profiles-and-audiences.md. -#}
{%- set run_at = cdp.run_at() -%}
{#- engagement: recency of own activity, web activity, purchases -#}
{%- set engagement_half_life_days = 14 -%}
{%- set engagement_events_30d_full = 20 -%}
{%- set engagement_orders_90d_full = 2 -%}
{#- churn: expected gap between orders when a customer has only one -#}
{%- set churn_default_interval_days = var('cdp_churn_default_interval_days', 90) -%}
{%- set churn_min_interval_days = 7 -%}


with

customers as (

    select * from {{ ref('dim_customers') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where customer_id is not null
      and ordered_at <= {{ run_at }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where customer_id is not null
      and ordered_at <= {{ run_at }}

),

events as (

    select * from {{ ref('fct_events') }}
    where customer_id is not null
      and event_at <= {{ run_at }}

),

active_customers as (

    select
        customers.customer_id,
        case when customers.last_seen_at <= {{ run_at }} then customers.last_seen_at end as record_last_seen_at
    from customers
    left join erased_customers
        on erased_customers.customer_id = customers.customer_id
    where erased_customers.customer_id is null

),

order_traits as (

    select
        customer_id,
        count(case when is_paid then order_id end) as order_count,
        count(case when is_placed then order_id end) as placed_order_count,
        count(case when is_refunded then order_id end) as refunded_order_count,
        count(case when is_cancelled then order_id end) as cancelled_order_count,
        sum(case when is_paid then net_revenue end) as net_revenue,
        sum(case when is_refunded then total_price_reporting end) as refunded_value,
        min(case when is_paid then ordered_at end) as first_order_at,
        max(case when is_paid then ordered_at end) as last_order_at,
        max(case when is_placed then ordered_at end) as last_placed_order_at,
        count(case
            when is_paid and ordered_at > {{ dbt.dateadd('day', -90, run_at) }} then order_id
        end) as orders_90d
    from orders
    group by customer_id

),

event_traits as (

    select
        customer_id,
        max(event_at) as last_event_at,
        {%- for days in [7, 30, 90] %}
        count(case when event_at > {{ dbt.dateadd('day', -days, run_at) }} then message_id end) as events_{{ days }}d,
        {%- endfor %}
        count(case
            when event_name = 'Product Viewed' and event_at > {{ dbt.dateadd('day', -30, run_at) }} then message_id
        end) as product_views_30d,
        count(case
            when event_name = 'Product Added' and event_at > {{ dbt.dateadd('day', -30, run_at) }} then message_id
        end) as cart_adds_30d
    from events
    group by customer_id

),

purchased_categories as (

    select
        customer_id,
        category,
        row_number() over (
            partition by customer_id
            order by sum(quantity) desc, sum(line_total_reporting) desc nulls last, max(ordered_at) desc, category
        ) as category_rank
    from order_lines
    where is_paid
      and category is not null
    group by customer_id, category

),

viewed_categories as (

    select
        customer_id,
        product_category as category,
        row_number() over (
            partition by customer_id
            order by count(*) desc, max(event_at) desc nulls last, product_category
        ) as category_rank
    from events
    where event_name = 'Product Viewed'
      and product_category is not null
    group by customer_id, product_category

),

joined as (

    select
        active_customers.customer_id,
        coalesce(order_traits.order_count, 0) as order_count,
        coalesce(order_traits.placed_order_count, 0) as placed_order_count,
        coalesce(order_traits.refunded_order_count, 0) as refunded_order_count,
        coalesce(order_traits.cancelled_order_count, 0) as cancelled_order_count,
        coalesce(order_traits.net_revenue, 0) as net_revenue,
        coalesce(order_traits.refunded_value, 0) as refunded_value,
        coalesce(order_traits.orders_90d, 0) as orders_90d,
        order_traits.first_order_at,
        order_traits.last_order_at,
        order_traits.last_placed_order_at,
        event_traits.last_event_at,
        coalesce(event_traits.events_7d, 0) as events_7d,
        coalesce(event_traits.events_30d, 0) as events_30d,
        coalesce(event_traits.events_90d, 0) as events_90d,
        coalesce(event_traits.product_views_30d, 0) as product_views_30d,
        coalesce(event_traits.cart_adds_30d, 0) as cart_adds_30d,
        coalesce(purchased_categories.category, viewed_categories.category) as top_product_category,
        case
            when purchased_categories.category is not null then 'purchases'
            when viewed_categories.category is not null then 'views'
        end as top_product_category_basis,
        case
            when event_traits.last_event_at is null
                or order_traits.last_placed_order_at > event_traits.last_event_at
                then order_traits.last_placed_order_at
            else event_traits.last_event_at
        end as last_activity_at,
        active_customers.record_last_seen_at
    from active_customers
    left join order_traits
        on order_traits.customer_id = active_customers.customer_id
    left join event_traits
        on event_traits.customer_id = active_customers.customer_id
    left join purchased_categories
        on purchased_categories.customer_id = active_customers.customer_id
        and purchased_categories.category_rank = 1
    left join viewed_categories
        on viewed_categories.customer_id = active_customers.customer_id
        and viewed_categories.category_rank = 1

),

elapsed as (

    select
        *,
        case
            when last_activity_at is null or record_last_seen_at > last_activity_at then record_last_seen_at
            else last_activity_at
        end as last_seen_at,
        floor({{ dbt.datediff('last_order_at', run_at, 'second') }} / 86400.0) as days_since_last_order,
        floor({{ dbt.datediff('last_activity_at', run_at, 'second') }} / 86400.0) as days_since_last_activity,
        floor({{ dbt.datediff('last_event_at', run_at, 'second') }} / 86400.0) as days_since_last_event,
        case
            when order_count >= 2 then greatest(
                {{ churn_min_interval_days }},
                cast({{ dbt.datediff('first_order_at', 'last_order_at', 'second') }} as double) / 86400.0 / (order_count - 1)
            )
            when order_count = 1 then {{ churn_default_interval_days }}
        end as expected_order_interval_days
    from joined

),

components as (

    select
        *,
        case
            when days_since_last_activity is null then 0.0
            else power(0.5, cast(days_since_last_activity as double) / {{ engagement_half_life_days }}.0)
        end as activity_recency_component,
        case
            when days_since_last_event is null then 0.0
            else power(0.5, cast(days_since_last_event as double) / {{ engagement_half_life_days }}.0)
        end as web_recency_component,
        least(1.0, cast(events_30d as double) / {{ engagement_events_30d_full }}.0) as web_activity_component,
        least(1.0, cast(orders_90d as double) / {{ engagement_orders_90d_full }}.0) as purchase_component,
        -- RFM ranks among buyers only; ties share the lower score
        percent_rank() over (
            partition by case when order_count > 0 then 1 else 0 end
            order by days_since_last_order desc nulls last
        ) as recency_percentile,
        percent_rank() over (
            partition by case when order_count > 0 then 1 else 0 end
            order by order_count
        ) as frequency_percentile,
        percent_rank() over (
            partition by case when order_count > 0 then 1 else 0 end
            order by net_revenue
        ) as monetary_percentile
    from elapsed

),

scored as (

    select
        *,
        case when order_count > 0 then cast(least(5, 1 + floor(5 * recency_percentile)) as integer) end as rfm_recency_score,
        case when order_count > 0 then cast(least(5, 1 + floor(5 * frequency_percentile)) as integer) end as rfm_frequency_score,
        case when order_count > 0 then cast(least(5, 1 + floor(5 * monetary_percentile)) as integer) end as rfm_monetary_score,
        round(100 * (
            0.40 * activity_recency_component
            + 0.35 * web_activity_component
            + 0.25 * purchase_component
        ), 1) as engagement_score,
        case
            when order_count > 0 then round(
                100
                * (1 - exp(-days_since_last_order / expected_order_interval_days))
                * (1 - 0.5 * web_recency_component),
                1
            )
        end as churn_risk_score
    from components

),

final as (

    select
        ----------  ids
        customer_id,

        ----------  value
        cast(net_revenue as double) as lifetime_value,
        cast(order_count as integer) as order_count,
        cast(case when order_count > 0 then cast(net_revenue as double) / order_count end as double) as average_order_value,
        cast(placed_order_count as integer) as placed_order_count,
        cast(refunded_order_count as integer) as refunded_order_count,
        cast(cancelled_order_count as integer) as cancelled_order_count,
        cast(refunded_value as double) as refunded_value,

        ----------  recency
        first_order_at,
        last_order_at,
        last_placed_order_at,
        cast(days_since_last_order as integer) as days_since_last_order,
        last_event_at,
        last_seen_at,

        ----------  activity
        cast(events_7d as integer) as events_7d,
        cast(events_30d as integer) as events_30d,
        cast(events_90d as integer) as events_90d,
        cast(product_views_30d as integer) as product_views_30d,
        cast(cart_adds_30d as integer) as cart_adds_30d,
        top_product_category,
        top_product_category_basis,

        ----------  scores
        rfm_recency_score,
        rfm_frequency_score,
        rfm_monetary_score,
        cast(rfm_recency_score as {{ dbt.type_string() }})
            || cast(rfm_frequency_score as {{ dbt.type_string() }})
            || cast(rfm_monetary_score as {{ dbt.type_string() }}) as rfm_score,
        case
            when order_count = 0 then 'prospect'
            when rfm_recency_score >= 4 and rfm_frequency_score >= 4 then 'champions'
            when rfm_recency_score >= 3 and rfm_frequency_score >= 3 then 'loyal'
            when rfm_recency_score >= 4 then 'new'
            when rfm_recency_score = 3 then 'promising'
            when rfm_frequency_score >= 3 then 'at_risk'
            else 'hibernating'
        end as rfm_segment,
        cast(engagement_score as double) as engagement_score,
        case
            when engagement_score >= 60 then 'high'
            when engagement_score >= 30 then 'medium'
            when engagement_score > 0 then 'low'
            else 'inactive'
        end as engagement_level,
        cast(churn_risk_score as double) as churn_risk_score,
        case
            when churn_risk_score >= 70 then 'high'
            when churn_risk_score >= 40 then 'medium'
            when churn_risk_score is not null then 'low'
        end as churn_risk_level,

        ----------  as of
        cast({{ run_at }} as timestamp) as traits_as_of

    from scored

)

select * from final
