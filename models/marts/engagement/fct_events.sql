{#- on_schema_change fail: the contract is enforced, so a changed column list needs a --full-refresh.
    Incremental: only the events that can have changed are recomputed and written (docs/incremental-facts.md). -#}
{%- set anonymous_id_cap = cdp.identity_config()['max_accounts_per_identifier']['anonymous_id'] -%}
{%- set spec = {
    'key': 'message_id',
    'staged': 'stg_web__events',
    'source_table': 'web_events',
    'record_sources': ['web_events', 'app_users'],
    'owner_identifier': 'app_user_id',
    'settings': {'anonymous_id_cap': anonymous_id_cap,
                 'anonymous_id_blocklist': cdp.identity_config()['blocklist']['anonymous_id']},
} -%}
{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    pre_hook="{{ cdp.stage_fact_inputs(" ~ tojson(spec) ~ ") }}",
    post_hook=[
        "{{ cdp.delete_vanished_rows('message_id', 'web_events') }}",
        "{{ cdp.save_fact_state() }}",
    ]
) }}
-- depends_on: {{ ref('stg_privacy__erasure_scope') }}

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
{%- set incremental_run = cdp.fact_state_is_current(spec) %}

with

{% if incremental_run -%}
{#- An incremental run recomputes the events whose result can differ from
    what the table holds: the newly staged ones, those whose lookups changed
    (the identify call's record, the app user's record or owner, the erasure
    of that customer), those of erased records (their device loses a link), and
    then every event on a device any of these carry, since a device's links
    decide all its anonymous events. Blocklisted devices are never stitched.
    (The staged events are read where needed, not through one shared CTE:
    DuckDB materialises a CTE read more than once, every column of every
    event.) -#}
-- listed by the pre-hook (stage_fact_inputs), saved as the state by the post-hook
attribution_inputs as (

    select * from {{ cdp.fact_inputs_relation() }}

),

changed_inputs as (

    {{ cdp.changed_fact_inputs('attribution_inputs') }}

),

changed_records as (

    select input_value as record_key from changed_inputs where input_type = 'record'

),

-- app users whose own record or whose owner changed
changed_app_users as (

    select substr(record_key, length('app_users:') + 1) as app_user_id
    from changed_records
    where record_key like 'app_users:%'
    union
    select input_value from changed_inputs where input_type = 'app_user_id'

),

{#- One select per reason an event is touched, not one scan with an `or`:
    each filter then reaches the scan on its own (the watermark prunes row
    groups, a semi-join on an empty or small set skips or filters the scan
    before the other columns are read), which is what keeps a run with few
    new events (the events hot path) from reading all 10M events twice. #}
touched_events as (

    select message_id, anonymous_id
    from {{ ref('stg_web__events') }}
    where _loaded_at > {{ cdp.fact_state_watermark() }}
    union
    -- an event's record is 'web_events:' || message_id: the changed records name
    -- the identify calls, and a semi-join on message_id avoids reading the long
    -- record_key of every event (a non-identify event here is only recomputed)
    select message_id, anonymous_id
    from {{ ref('stg_web__events') }}
    where message_id in (
        select substr(record_key, length('web_events:') + 1)
        from changed_records
        where record_key like 'web_events:%'
    )
    union
    select message_id, anonymous_id
    from {{ ref('stg_web__events') }}
    where app_user_id in (select app_user_id from changed_app_users)
    union
    select message_id, anonymous_id
    from {{ this }}
    where message_id in ({{ cdp.vanished_keys('message_id', 'web_events') }})

),

touched_devices as (

    select distinct anonymous_id
    from touched_events
    where anonymous_id is not null
      and not {{ cdp.is_blocklisted_identifier("'anonymous_id'", 'anonymous_id') }}

),

-- the touched events, then the other events of their devices (disjoint)
events as (

    select * from {{ ref('stg_web__events') }}
    where message_id in (select message_id from touched_events)
    union all
    select * from {{ ref('stg_web__events') }}
    where anonymous_id in (select anonymous_id from touched_devices)
      and message_id not in (select message_id from touched_events)

),
{%- else -%}
events as (

    select * from {{ ref('stg_web__events') }}

),
{%- endif %}

customer_records as (

    select * from {{ ref('dim_customer_records') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

-- an app user id resolves through the user's own record, else through the
-- identifier when exactly one customer holds it
user_owners as (

    {%- if incremental_run %}
    -- the owners the pre-hook listed (identifier_owners), not aggregated again
    select input_value as app_user_id, customer_id
    from {{ cdp.fact_inputs_relation() }}
    where input_type = 'app_user_id'
    {%- else %}
    select identifier_value as app_user_id, customer_id
    from ({{ cdp.identifier_owners('app_user_id') }}) as owners
    {%- endif %}

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

final as (

    select * from resolved_all

)

select * from final
