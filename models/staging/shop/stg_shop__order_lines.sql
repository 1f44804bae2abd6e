{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    pre_hook="{{ cdp.delete_restaged_keys('shop_orders') }}",
    post_hook="{{ cdp.delete_erased_records('shop_orders') }}"
) }}

{#- Incremental on the order: an incremental run unpacks the staged version of
    each order with newly landed versions (the batch of stg_shop__orders, see
    the macro staging_batch). A new version replaces all lines of its order:
    the pre-hook deletes the lines of the batch's orders first, so a version
    with fewer lines, or none (an empty or malformed array), leaves no line
    of the old one; delete+insert on order_id makes a re-read batch
    idempotent. The post-hook deletes the lines of orders erased since the
    last run. -#}
with

orders as (

    select * from (
        {{ cdp.staging_batch('shop_orders') }}
    ) as batch
    where {{ cdp.is_staged('shop_orders') }}

),

elements as (

    {{ cdp.json_array_elements('orders', 'line_items', ['order_id', '_loaded_at']) }}

),

final as (

    select
        ----------  ids
        order_id || '-' || cast(element_index as {{ dbt.type_string() }}) as order_line_id,
        order_id,
        element_index as line_number,

        ----------  product
        nullif(trim({{ cdp.json_text('element_json', 'sku') }}), '') as sku,
        lower(nullif(trim({{ cdp.json_text('element_json', 'category') }}), '')) as category,

        ----------  amounts
        coalesce(try_cast({{ cdp.json_text('element_json', 'quantity') }} as integer), 1) as quantity,
        try_cast({{ cdp.json_text('element_json', 'price') }} as decimal(18, 2)) as unit_price,

        ----------  timestamps
        -- the order version the line was unpacked from
        _loaded_at

    from elements

)

select * from final
