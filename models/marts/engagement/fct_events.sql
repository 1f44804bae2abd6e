{#- on_schema_change fail: the contract is enforced, so a changed column list needs a --full-refresh. -#}
{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_vanished_rows('message_id', 'stg_web__events') }}"
) }}

{#- One row per staged web event, attributed to a customer:
      1. identify calls: the identity layer's decision for the call's record;
      2. events with a user_id: the app user's customer;
      3. events with only an anonymous_id: stitched through the device. Every
         attributed event that carries an anonymous_id links that device to its
         customer at that moment; an anonymous event goes to the customer of the
         next link on its device (the person who identified afterwards owns the
         earlier history), or, after the device's last link, to the last one.
    Devices that are blocklisted or linked to more customers than the identity
    cap allows (kiosks, shared test browsers) are not stitched. Events of a
    tombstoned customer lose their customer_id. Identify traits, IP and full
    URLs are left out: they are personal data and no consumer needs them here. -#}
{%- set anonymous_id_cap = cdp.identity_config()['max_accounts_per_identifier']['anonymous_id'] -%}

with

events as (

    select * from {{ ref('stg_web__events') }}

),

customer_records as (

    select * from {{ ref('dim_customer_records') }}

),

customer_identifiers as (

    select * from {{ ref('dim_customer_identifiers') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

-- an app user id resolves through the user's own record, else through the
-- identifier when exactly one customer holds it
user_owners as (

    select
        identifier_value as app_user_id,
        min(customer_id) as customer_id
    from customer_identifiers
    where identifier_type = 'app_user_id'
      and is_linkable
    group by identifier_value
    having count(distinct customer_id) = 1

),

direct as (

    select
        events.*,
        coalesce(
            case when events.event_type = 'identify' then identify_record.customer_id end,
            user_record.customer_id,
            user_owners.customer_id
        ) as direct_customer_id,
        case
            when events.event_type = 'identify' and identify_record.customer_id is not null then 'identify_call'
            when coalesce(user_record.customer_id, user_owners.customer_id) is not null then 'user_id'
        end as direct_method
    from events
    left join customer_records as identify_record
        on identify_record.record_key = events.record_key
    left join customer_records as user_record
        on user_record.record_key = 'app_users:' || events.app_user_id
    left join user_owners
        on user_owners.app_user_id = events.app_user_id

),

device_links_all as (

    select
        anonymous_id,
        direct_customer_id as customer_id,
        event_at as linked_at
    from direct
    where direct_customer_id is not null
      and anonymous_id is not null
      and not {{ cdp.is_blocklisted_identifier("'anonymous_id'", 'anonymous_id') }}

),

shared_devices as (

    select anonymous_id
    from device_links_all
    group by anonymous_id
    having count(distinct customer_id) > {{ anonymous_id_cap }}

),

device_links as (

    select device_links_all.*
    from device_links_all
    left join shared_devices
        on shared_devices.anonymous_id = device_links_all.anonymous_id
    where shared_devices.anonymous_id is null

),

anonymous_candidates as (

    select
        direct.message_id,
        device_links.customer_id,
        row_number() over (
            partition by direct.message_id
            order by
                case when device_links.linked_at >= direct.event_at then 0 else 1 end,
                case when device_links.linked_at >= direct.event_at then device_links.linked_at end asc,
                device_links.linked_at desc nulls last,
                device_links.customer_id
        ) as link_rank
    from direct
    inner join device_links
        on device_links.anonymous_id = direct.anonymous_id
    where direct.direct_customer_id is null

),

stitched as (

    select
        direct.*,
        coalesce(direct.direct_customer_id, anonymous_candidates.customer_id) as resolved_customer_id,
        coalesce(
            direct.direct_method,
            case when anonymous_candidates.customer_id is not null then 'anonymous_id' end
        ) as resolved_method
    from direct
    left join anonymous_candidates
        on anonymous_candidates.message_id = direct.message_id
        and anonymous_candidates.link_rank = 1

),

resolved_all as (

    select
        ----------  ids
        stitched.message_id,
        case when erased_customers.customer_id is null then stitched.resolved_customer_id end as customer_id,
        case
            when erased_customers.customer_id is not null then 'erased_customer'
            else coalesce(stitched.resolved_method, 'unattributed')
        end as attribution_method,
        stitched.anonymous_id,
        stitched.app_user_id,

        ----------  event
        stitched.event_type,
        stitched.event_name,
        stitched.product_sku,
        stitched.product_category,
        stitched.product_price,
        stitched.order_id,
        stitched.page_path,

        ----------  timestamps
        stitched.event_at,
        stitched.received_at

    from stitched
    left join erased_customers
        on erased_customers.customer_id = stitched.resolved_customer_id

),

-- incremental: only new and changed events are written (see the macro changed_rows)
final as (

    {{ cdp.changed_rows('resolved_all') }}

)

select * from final
