{#- One row per line item of an order, with the order's customer, status and
    time, priced in the reporting currency: the grain for category traits. -#}
with

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

final as (

    select
        ----------  ids
        order_lines.order_line_id,
        order_lines.order_id,
        orders.customer_id,
        order_lines.line_number,

        ----------  product
        order_lines.sku,
        order_lines.category,

        ----------  amounts
        order_lines.quantity,
        order_lines.unit_price,
        cast(order_lines.quantity * order_lines.unit_price as decimal(18, 2)) as line_total,
        cast(round(order_lines.quantity * order_lines.unit_price * orders.rate_to_reporting, 2) as decimal(18, 2))
            as line_total_reporting,

        ----------  order context
        orders.order_status,
        orders.is_paid,
        orders.is_placed,
        orders.ordered_at

    from order_lines
    inner join orders
        on orders.order_id = order_lines.order_id

)

select * from final
