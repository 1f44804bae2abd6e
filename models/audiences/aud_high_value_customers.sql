{#- High-value customers: net lifetime value (paid orders, refunds and
    cancellations excluded) of at least `cdp_high_value_min_ltv` in the
    reporting currency. For the CRM (HubSpot) and the file export: no consent
    filter, because a sales relationship is not email marketing; the consent
    flags travel with each row so the destination can respect them. -#}
{%- set min_lifetime_value = var('cdp_high_value_min_ltv', 1000) -%}

with

profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        ----------  ids
        customer_id,

        ----------  contact
        email,
        phone,
        first_name,
        last_name,
        country_code,

        ----------  key traits
        lifetime_value,
        order_count,
        last_order_at,
        average_order_value,
        first_order_at,
        days_since_last_order,
        top_product_category,
        rfm_score,
        rfm_segment,
        churn_risk_score,

        ----------  consent
        email_marketing_consent,
        sms_marketing_consent

    from profiles
    where lifetime_value >= {{ min_lifetime_value }}

)

select * from final
