{#- Every consent statement attributed to a customer, from the three places a
    person states it:
      - the consent platform (per purpose; attributed by user_id, else email);
      - the shop's marketing flag (email_marketing; when the account last changed);
      - newsletter sign-ups (email_marketing; the opt-in box at sign-up).
    A grant names one person: it is attributed only when its identifier
    resolves to exactly one customer and is not a blocked junk value. A refusal protects everybody it may be
    about: it applies to every customer holding the identifier. Statements
    after the run time have not happened yet and are left out. -#}
with

consent_events as (

    select * from {{ ref('stg_consent__events') }}

),

shop_customers as (

    select * from {{ ref('stg_shop__customers') }}

),

newsletter_signups as (

    select * from {{ ref('stg_newsletter__signups') }}

),

customer_records as (

    select * from {{ ref('dim_customer_records') }}

),

customer_identifiers as (

    select * from {{ ref('dim_customer_identifiers') }}

),

user_matches as (

    select
        consent_events.consent_id,
        customer_identifiers.customer_id,
        customer_identifiers.is_linkable
    from consent_events
    inner join customer_identifiers
        on customer_identifiers.identifier_type = 'app_user_id'
        and customer_identifiers.identifier_value = consent_events.app_user_id

),

email_matches as (

    select
        consent_events.consent_id,
        customer_identifiers.customer_id,
        customer_identifiers.is_linkable
    from consent_events
    inner join customer_identifiers
        on customer_identifiers.identifier_type = 'email'
        and customer_identifiers.identifier_value = consent_events.email
    -- the user id is the stronger identifier: the email is used only without it
    where not exists (select 1 from user_matches where user_matches.consent_id = consent_events.consent_id)

),

consent_matches as (

    select consent_id, customer_id, is_linkable from user_matches
    union
    select consent_id, customer_id, is_linkable from email_matches

),

consent_match_counts as (

    -- a grant needs one customer behind a linkable (not junk) identifier
    select
        consent_id,
        count(distinct customer_id) as matched_customers,
        min(case when is_linkable then 1 else 0 end) = 1 as is_linkable
    from consent_matches
    group by consent_id

),

platform_statements as (

    select
        consent_matches.customer_id,
        consent_events.purpose,
        consent_events.is_granted,
        consent_events.recorded_at as stated_at,
        'consent_events' as source_table,
        consent_events.consent_source as stated_via,
        consent_events.record_key as source_record_key,
        1 as source_priority
    from consent_events
    inner join consent_matches
        on consent_matches.consent_id = consent_events.consent_id
    inner join consent_match_counts
        on consent_match_counts.consent_id = consent_events.consent_id
    where not consent_events.is_granted
       or (consent_match_counts.matched_customers = 1 and consent_match_counts.is_linkable)

),

shop_statements as (

    select
        customer_records.customer_id,
        'email_marketing' as purpose,
        shop_customers.accepts_email_marketing as is_granted,
        coalesce(shop_customers.updated_at, shop_customers.created_at) as stated_at,
        'shop_customers' as source_table,
        'shop_account' as stated_via,
        shop_customers.record_key as source_record_key,
        2 as source_priority
    from shop_customers
    inner join customer_records
        on customer_records.record_key = shop_customers.record_key
    -- a null flag is no statement
    where shop_customers.accepts_email_marketing is not null

),

newsletter_statements as (

    select
        customer_records.customer_id,
        'email_marketing' as purpose,
        -- a ticked box is a grant, an unticked one a refusal (staging currently
        -- also turns a form without a box into false: the safe side)
        newsletter_signups.is_opted_in as is_granted,
        newsletter_signups.signed_up_at as stated_at,
        'newsletter_signups' as source_table,
        coalesce('newsletter:' || newsletter_signups.signup_source, 'newsletter') as stated_via,
        newsletter_signups.record_key as source_record_key,
        3 as source_priority
    from newsletter_signups
    inner join customer_records
        on customer_records.record_key = newsletter_signups.record_key
    -- no box, no statement (once staging keeps that case null)
    where newsletter_signups.is_opted_in is not null

),

unioned as (

    select * from platform_statements
    union all
    select * from shop_statements
    union all
    select * from newsletter_statements

),

final as (

    select
        customer_id,
        purpose,
        is_granted,
        stated_at,
        source_table,
        stated_via,
        source_record_key,
        source_priority
    from unioned
    where stated_at is not null
      and stated_at <= {{ cdp.run_at() }}

)

select * from final
