{#- Every person-bearing staged record as a node of the identity graph, with
    the identifiers and attributes matching uses. `account_key` names the
    account a record belongs to in its own tool (an order belongs to its shop
    customer, a guest order to its email, an identify call to its user): the
    junk-identifier cap counts accounts, not rows, so a loyal customer's 200
    orders do not make their email look shared. -#}
with

crm_contacts as (

    select
        record_key,
        'crm_contacts' as source_table,
        contact_id as source_record_id,
        record_key as account_key,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as app_user_id,
        cast(null as {{ dbt.type_string() }}) as shop_customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        first_name,
        last_name,
        date_of_birth,
        street,
        city,
        postal_code,
        country_code,
        coalesce(updated_at, created_at) as observed_at
    from {{ ref('stg_crm__contacts') }}

),

shop_customers as (

    select
        record_key,
        'shop_customers' as source_table,
        shop_customer_id as source_record_id,
        record_key as account_key,
        email,
        phone,
        null as app_user_id,
        shop_customer_id,
        null as anonymous_id,
        first_name,
        last_name,
        null as date_of_birth,
        street,
        city,
        postal_code,
        country_code,
        coalesce(updated_at, created_at) as observed_at
    from {{ ref('stg_shop__customers') }}

),

shop_orders as (

    select
        record_key,
        'shop_orders' as source_table,
        order_id as source_record_id,
        coalesce('shop_customers:' || shop_customer_id, 'guest:' || email, record_key) as account_key,
        email,
        null as phone,
        null as app_user_id,
        shop_customer_id,
        null as anonymous_id,
        null as first_name,
        null as last_name,
        null as date_of_birth,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        coalesce(updated_at, created_at) as observed_at
    from {{ ref('stg_shop__orders') }}

),

app_users as (

    select
        record_key,
        'app_users' as source_table,
        app_user_id as source_record_id,
        record_key as account_key,
        email,
        phone,
        app_user_id,
        null as shop_customer_id,
        null as anonymous_id,
        first_name,
        last_name,
        null as date_of_birth,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        coalesce(last_login_at, signup_at) as observed_at
    from {{ ref('stg_app__users') }}

),

identify_calls as (

    -- identify calls tie a browser (anonymous_id) to a user and/or an email
    select
        record_key,
        'web_events' as source_table,
        message_id as source_record_id,
        coalesce('app_users:' || app_user_id, 'anonymous:' || anonymous_id) as account_key,
        traits_email as email,
        null as phone,
        app_user_id,
        null as shop_customer_id,
        anonymous_id,
        traits_first_name as first_name,
        traits_last_name as last_name,
        null as date_of_birth,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        event_at as observed_at
    from {{ ref('stg_web__events') }}
    where event_type = 'identify'

),

newsletter_signups as (

    select
        record_key,
        'newsletter_signups' as source_table,
        signup_id as source_record_id,
        record_key as account_key,
        email,
        null as phone,
        null as app_user_id,
        null as shop_customer_id,
        null as anonymous_id,
        first_name,
        null as last_name,
        null as date_of_birth,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        signed_up_at as observed_at
    from {{ ref('stg_newsletter__signups') }}

),

support_tickets as (

    select
        record_key,
        'support_tickets' as source_table,
        ticket_id as source_record_id,
        coalesce('ticket_requester:' || email, 'ticket_requester:' || phone, record_key) as account_key,
        email,
        phone,
        null as app_user_id,
        null as shop_customer_id,
        null as anonymous_id,
        first_name,
        last_name,
        null as date_of_birth,
        null as street,
        null as city,
        null as postal_code,
        null as country_code,
        created_at as observed_at
    from {{ ref('stg_helpdesk__tickets') }}

),

unioned as (

    select * from crm_contacts
    union all select * from shop_customers
    union all select * from shop_orders
    union all select * from app_users
    union all select * from identify_calls
    union all select * from newsletter_signups
    union all select * from support_tickets

),

final as (

    select * from unioned

)

select * from final
