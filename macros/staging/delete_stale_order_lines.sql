{#- Post-hook of stg_shop__order_lines: a line must belong to the order version
    stg_shop__orders holds. Deletes the lines of erased orders and of orders
    whose newer version has no (valid) line items, which delete+insert on
    order_id cannot see because the batch has no line for them. (One hashed
    column instead of a row-value IN or a correlated delete: both dialects.) -#}
{% macro delete_stale_order_lines() -%}
    delete from {{ this }}
    where {{ cdp.hash_key(['order_id', '_loaded_at']) }} not in (
        select {{ cdp.hash_key(['order_id', '_loaded_at']) }}
        from {{ ref('stg_shop__orders') }}
    )
{%- endmacro %}
