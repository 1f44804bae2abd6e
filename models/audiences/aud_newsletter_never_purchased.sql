{#- Newsletter subscribers who never purchased: signed up to the newsletter
    (on or before the run time) and never placed an order (paid, pending or
    refunded; a cancelled order is not a purchase). For email (Mailchimp):
    only people with an email and granted email-marketing consent, which the
    latest statement decides (an unsubscribe after the sign-up removes them). -#}
{%- set run_at = cdp.run_at() -%}

with

profiles as (

    select * from {{ ref('customer_profiles') }}

),

newsletter_signups as (

    select * from {{ ref('stg_newsletter__signups') }}
    where signed_up_at <= {{ run_at }}

),

customer_records as (

    select * from {{ ref('dim_customer_records') }}

),

subscriptions as (

    select
        customer_records.customer_id,
        min(newsletter_signups.signed_up_at) as newsletter_signed_up_at,
        count(*) as newsletter_signups
    from newsletter_signups
    inner join customer_records
        on customer_records.record_key = newsletter_signups.record_key
    group by customer_records.customer_id

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
        subscriptions.newsletter_signed_up_at,
        cast(subscriptions.newsletter_signups as integer) as newsletter_signups,
        profiles.engagement_score,
        profiles.top_product_category,

        ----------  consent
        profiles.email_marketing_consent,
        profiles.sms_marketing_consent

    from profiles
    inner join subscriptions
        on subscriptions.customer_id = profiles.customer_id
    where profiles.last_placed_order_at is null
      and profiles.email is not null
      and profiles.email_marketing_consent

)

select * from final
