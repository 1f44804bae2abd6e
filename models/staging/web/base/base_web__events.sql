{{ config(materialized='view') }}

with

source as (

    select * from {{ source('web', 'web_events') }}

),

renamed as (

    select
        ----------  ids
        nullif(trim(message_id), '') as message_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        nullif(trim(user_id), '') as app_user_id,

        ----------  event
        lower(nullif(trim(type), '')) as event_type,
        nullif(trim(event), '') as event_name,

        ----------  unpacked JSON (what identity, traits and audiences use)
        {{ cdp.json_text('traits', 'email') }} as traits_email_raw,
        {{ cdp.normalize_name(cdp.json_text('traits', 'first_name')) }} as traits_first_name,
        {{ cdp.normalize_name(cdp.json_text('traits', 'last_name')) }} as traits_last_name,
        nullif(trim({{ cdp.json_text('properties', 'sku') }}), '') as product_sku,
        lower(nullif(trim({{ cdp.json_text('properties', 'category') }}), '')) as product_category,
        try_cast({{ cdp.json_text('properties', 'price') }} as decimal(18, 2)) as product_price,
        nullif(trim({{ cdp.json_text('properties', 'order_id') }}), '') as order_id,
        coalesce({{ cdp.json_text('properties', 'path') }}, {{ cdp.json_text('context', 'page.path') }}) as page_path,
        coalesce({{ cdp.json_text('properties', 'url') }}, {{ cdp.json_text('context', 'page.url') }}) as page_url,
        {{ cdp.json_text('context', 'ip') }} as ip_address,
        {{ cdp.json_text('context', 'userAgent') }} as user_agent,
        traits,
        properties,
        context,

        ----------  timestamps
        nullif(trim(timestamp), '') as event_at_raw,
        {{ cdp.parse_timestamp('timestamp') }} as event_at,
        {{ cdp.parse_timestamp('received_at') }} as received_at,
        _loaded_at,

        -- serialised in `final`, for quarantined rows only
        {{ cdp.row_as_object('landed_row') }} as _landed_row

    from source as landed_row

),

normalized as (

    select
        *,
        {{ cdp.normalize_email('traits_email_raw') }} as traits_email,
        case
            when message_id is null then 'missing message_id'
            when event_type is null or not {{ cdp.is_one_of('event_type', ['track', 'identify', 'page', 'screen', 'group', 'alias']) }}
                then 'unknown event type'
            when anonymous_id is null and app_user_id is null then 'missing anonymous_id and user_id'
            when event_at is null and received_at is null then 'missing or unparseable timestamp'
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
