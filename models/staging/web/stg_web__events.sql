{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('web_events') }}"
) }}

{#- Incremental (append-mostly): an incremental run stages only the message_ids
    with newly landed rows (see the macro staging_batch). -#}
with

events as (

    {{ cdp.staging_batch('web_events') }}

),

final as (

    select
        ----------  ids
        message_id,
        'web_events:' || message_id as record_key,
        anonymous_id,
        app_user_id,

        ----------  event
        event_type,
        case when event_type = 'track' then event_name else event_type end as event_name,

        ----------  identify traits
        traits_email,
        traits_first_name,
        traits_last_name,

        ----------  product and page
        product_sku,
        product_category,
        product_price,
        order_id,
        page_path,
        page_url,

        ----------  context
        ip_address,
        user_agent,

        ----------  timestamps
        -- a device clock can be wrong; fall back to when Segment received it
        coalesce(event_at, received_at) as event_at,
        received_at,
        _loaded_at

    from events
    where {{ cdp.is_staged('web_events') }}

)

select * from final
