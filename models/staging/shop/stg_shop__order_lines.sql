{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_stale_order_lines() }}"
) }}

{#- Incremental: an incremental run unpacks only the orders with raw rows
    newer than the lines held (the batch of stg_shop__orders) (unique_key order_id: delete+insert
    replaces all lines of such an order). Lines of an order that was erased,
    or whose new version has no lines, are deleted by the post-hook: a line
    must belong to the order version stg_shop__orders holds. -#}
-- depends_on: {{ ref('stg_shop__orders') }}
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
