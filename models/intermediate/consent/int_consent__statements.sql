{#- Consent statements attributed to customers, one row per customer, purpose
    and statement group, from the three places a person states it:
      - the consent platform (per purpose; attributed by user_id, else email);
      - the shop's marketing flag (email_marketing; when the account last changed);
      - newsletter sign-ups (email_marketing; the opt-in box at sign-up).
    A grant names one person: it is attributed only when its identifier
    resolves to exactly one customer and is not a blocked junk value. A refusal
    protects everybody it may be about: it applies to every customer holding
    the identifier, junk values included (docs/profiles-and-audiences.md).
    Statements after the run time have not happened yet and are left out.

    Grain. A shop flag or a newsletter sign-up is about one record, so it is
    one group of one statement. Platform statements are grouped before they
    reach customers: by the identifier they resolve through (one app_user_id,
    else one email), purpose and outcome. Every holder of that identifier gets
    the same group, so a refusal through a value thousands of customers hold is
    one group joined to its holders, not every statement times every holder.
    Each group carries what customer_consent needs, and all of it combines
    across groups: the count, the first and the latest statement, and the
    latest statement's tie-break keys (within a group the outcome and source
    are fixed, so the latest is the one with the latest time, then the
    smallest record key). -#}
with

consent_events as (

    select * from {{ ref('stg_consent__events') }}
    where recorded_at is not null
      and recorded_at <= {{ cdp.run_at() }}

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

held_identifiers as (

    select customer_id, identifier_type, identifier_value, is_linkable
    from {{ ref('dim_customer_identifiers') }}
    where identifier_type in ('app_user_id', 'email')

),

identifier_holders as (

    select
        identifier_type,
        identifier_value,
        -- dim_customer_identifiers has one row per customer, type and value
        count(*) as holder_count,
        min(case when is_linkable then 1 else 0 end) = 1 as is_linkable
    from held_identifiers
    group by identifier_type, identifier_value

),

-- the identifier a platform statement resolves through: the user id when
-- anybody holds it (the stronger identifier), else the email
resolved_events as (

    select
        consent_events.*,
        case when user_holders.identifier_value is not null then 'app_user_id' else 'email' end
            as matched_identifier_type,
        case when user_holders.identifier_value is not null then consent_events.app_user_id
            else consent_events.email end as matched_identifier_value,
        coalesce(user_holders.holder_count, email_holders.holder_count) as holder_count,
        coalesce(user_holders.is_linkable, email_holders.is_linkable) as is_linkable
    from consent_events
    left join identifier_holders as user_holders
        on user_holders.identifier_type = 'app_user_id'
        and user_holders.identifier_value = consent_events.app_user_id
    left join identifier_holders as email_holders
        on email_holders.identifier_type = 'email'
        and email_holders.identifier_value = consent_events.email
    where user_holders.identifier_value is not null
       or email_holders.identifier_value is not null

),

platform_ranked as (

    select
        matched_identifier_type,
        matched_identifier_value,
        holder_count,
        is_linkable,
        purpose,
        is_granted,
        recorded_at as stated_at,
        consent_source as stated_via,
        record_key as source_record_key,
        count(*) over (partition by matched_identifier_type, matched_identifier_value, purpose, is_granted) as statement_count,
        min(recorded_at) over (partition by matched_identifier_type, matched_identifier_value, purpose, is_granted) as first_stated_at,
        row_number() over (
            partition by matched_identifier_type, matched_identifier_value, purpose, is_granted
            order by recorded_at desc, record_key
        ) as statement_rank
    from resolved_events
    -- a grant needs one customer behind a linkable (not junk) identifier
    where not is_granted
       or (holder_count = 1 and is_linkable)

),

platform_statements as (

    select
        held_identifiers.customer_id,
        platform_ranked.purpose,
        platform_ranked.is_granted,
        platform_ranked.stated_at,
        'consent_events' as source_table,
        platform_ranked.stated_via,
        platform_ranked.source_record_key,
        1 as source_priority,
        platform_ranked.statement_count,
        platform_ranked.first_stated_at,
        platform_ranked.matched_identifier_type,
        platform_ranked.is_linkable as is_matched_identifier_linkable,
        platform_ranked.holder_count as matched_customer_count
    from platform_ranked
    inner join held_identifiers
        on held_identifiers.identifier_type = platform_ranked.matched_identifier_type
        and held_identifiers.identifier_value = platform_ranked.matched_identifier_value
    where platform_ranked.statement_rank = 1

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

record_statements as (

    -- a statement about one record: a group of one
    select
        *,
        1 as statement_count,
        stated_at as first_stated_at,
        cast(null as {{ dbt.type_string() }}) as matched_identifier_type,
        cast(null as boolean) as is_matched_identifier_linkable,
        cast(null as integer) as matched_customer_count
    from (
        select * from shop_statements
        union all
        select * from newsletter_statements
    ) as own_records
    where stated_at is not null
      and stated_at <= {{ cdp.run_at() }}

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
        source_priority,
        cast(statement_count as integer) as statement_count,
        first_stated_at,
        matched_identifier_type,
        is_matched_identifier_linkable,
        cast(matched_customer_count as integer) as matched_customer_count
    from platform_statements
    union all
    select
        customer_id,
        purpose,
        is_granted,
        stated_at,
        source_table,
        stated_via,
        source_record_key,
        source_priority,
        cast(statement_count as integer),
        first_stated_at,
        matched_identifier_type,
        is_matched_identifier_linkable,
        cast(matched_customer_count as integer)
    from record_statements

)

select * from final
