{#- The unified profile: golden record, key traits and consent flags in one row
    per (non-erased) customer. Audiences select from here, so they all carry
    the same contact fields and the same trait definitions. -#}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

customer_traits as (

    select * from {{ ref('customer_traits') }}

),

consent_flags as (

    select * from {{ ref('customer_consent_flags') }}

),

final as (

    select
        ----------  ids
        customers.customer_id,

        ----------  contact
        customers.email,
        customers.phone,
        customers.first_name,
        customers.last_name,
        customers.city,
        customers.country_code,

        ----------  traits
        customer_traits.lifetime_value,
        customer_traits.order_count,
        customer_traits.average_order_value,
        customer_traits.first_order_at,
        customer_traits.last_order_at,
        customer_traits.last_placed_order_at,
        customer_traits.days_since_last_order,
        customer_traits.last_seen_at,
        customer_traits.events_7d,
        customer_traits.events_30d,
        customer_traits.events_90d,
        customer_traits.top_product_category,
        customer_traits.rfm_score,
        customer_traits.rfm_segment,
        customer_traits.engagement_score,
        customer_traits.churn_risk_score,

        ----------  consent
        coalesce(consent_flags.email_marketing_consent, false) as email_marketing_consent,
        coalesce(consent_flags.sms_marketing_consent, false) as sms_marketing_consent,
        coalesce(consent_flags.advertising_consent, false) as advertising_consent,
        coalesce(consent_flags.analytics_consent, false) as analytics_consent

    -- traits exist only for non-erased customers: the inner join drops the rest
    from customers
    inner join customer_traits
        on customer_traits.customer_id = customers.customer_id
    left join consent_flags
        on consent_flags.customer_id = customers.customer_id

)

select * from final
