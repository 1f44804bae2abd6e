{#- Lapsed customers: at least one paid order, and no order placed (paid,
    pending or refunded; cancelled ones do not count) in the last
    `cdp_lapsed_after_days` days. For email win-back (Braze): only people with
    an email and granted email-marketing consent. -#}
{%- set run_at = cdp.run_at() -%}
{%- set lapsed_after_days = var('cdp_lapsed_after_days', 90) -%}

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
        days_since_last_order,
        top_product_category,
        rfm_segment,
        churn_risk_score,

        ----------  consent
        email_marketing_consent,
        sms_marketing_consent

    from profiles
    where order_count >= 1
      and last_placed_order_at <= {{ dbt.dateadd('day', -lapsed_after_days, run_at) }}
      and email is not null
      and email_marketing_consent

)

select * from final
