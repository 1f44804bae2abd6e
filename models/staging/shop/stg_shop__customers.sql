{{ config(
    materialized='incremental',
    unique_key='shop_customer_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('shop_customers') }}"
) }}

{#- Incremental (versioned): an incremental run restages only the customer accounts
    with newly landed rows, ranking all versions of each such key (see the
    macro staging_batch). Every column depends on the key's own versions
    only, so this equals a full build. -#}
with

customers as (

    {{ cdp.staging_batch('shop_customers') }}

),

final as (

    select
        ----------  ids
        shop_customer_id,
        'shop_customers:' || shop_customer_id as record_key,

        ----------  contact points
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,

        ----------  person
        first_name,
        last_name,

        ----------  address
        street,
        city,
        postal_code,
        country_code,

        ----------  marketing
        accepts_email_marketing,

        ----------  timestamps
        created_at,
        updated_at,
        _loaded_at

    from customers
    where {{ cdp.is_staged('shop_customers') }}

)

select * from final
