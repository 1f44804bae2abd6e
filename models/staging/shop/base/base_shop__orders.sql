{{ config(materialized='view') }}

with

source as (

    select * from {{ source('shop', 'shop_orders') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as shop_customer_id,

        ----------  contact points
        email as email_raw,

        ----------  amounts
        nullif(trim(total_price), '') as total_price_raw,
        try_cast(replace(trim(total_price), ',', '') as decimal(18, 2)) as total_price,
        upper(nullif(trim(currency), '')) as currency,
        lower(nullif(trim(status), '')) as order_status,
        line_items,
        {{ cdp.is_valid_json('line_items') }} as has_valid_line_items,

        ----------  timestamps
        nullif(trim(created_at), '') as created_at_raw,
        nullif(trim(updated_at), '') as updated_at_raw,
        {{ cdp.parse_timestamp('created_at') }} as created_at,
        {{ cdp.parse_timestamp('updated_at') }} as updated_at,
        _loaded_at,

        -- serialised in `final`, for quarantined rows only
        {{ cdp.row_as_object('landed_row') }} as _landed_row

    from source as landed_row

),

normalized as (

    select
        *,
        {{ cdp.normalize_email('email_raw') }} as email,
        {{ cdp.is_invalid_email('email_raw') }} as is_email_invalid,
        coalesce(updated_at, created_at) as version_at,
        case
            when order_id is null then 'missing order_id'
            when created_at is null then 'missing or unparseable created_at'
            when total_price is null then 'missing or unparseable total_price'
            when order_status is null or not {{ cdp.is_one_of('order_status', ['paid', 'refunded', 'cancelled', 'pending']) }}
                then 'unknown order status'
        end as _quarantine_reason

    from renamed

),

final as (

    select
        * exclude (_landed_row),
        -- the row as landed, for the quarantine: only rows staging cannot use are serialised, so
        -- staging's queries never build a JSON per row. Versions are ranked by staging
        -- (staging_batch), not here: a window in this view keeps an incremental run's
        -- `_loaded_at` filter above the normalisation of every raw row
        case when _quarantine_reason is not null then {{ cdp.object_as_json('_landed_row') }} end as _raw_row
    from normalized

)

select * from final
