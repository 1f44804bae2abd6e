{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('shop_orders') }}"
) }}

{#- Incremental (append-mostly): an incremental run restages only the orders
    with newly landed versions (see the macro staging_batch). -#}
with

orders as (

    {{ cdp.staging_batch('shop_orders') }}

),

final as (

    select
        ----------  ids
        order_id,
        'shop_orders:' || order_id as record_key,
        shop_customer_id,

        ----------  contact points
        email,
        is_email_invalid,

        ----------  amounts and state
        total_price,
        currency,
        order_status,
        shop_customer_id is null as is_guest_checkout,
        not has_valid_line_items as is_line_items_invalid,

        ----------  timestamps
        created_at,
        updated_at,
        _loaded_at

    from orders
    where {{ cdp.is_staged('shop_orders') }}

)

select * from final
