{#- on_schema_change fail: the contract is enforced, so a changed column list needs a --full-refresh.
    Incremental: only the orders that can have changed are recomputed and written (docs/incremental-facts.md). -#}
{%- set fx_rates = var('cdp_fx_rates', {'USD': 1.0, 'EUR': 1.08, 'GBP': 1.27}) -%}
{%- set spec = {
    'key': 'order_id',
    'staged': 'stg_shop__orders',
    'source_table': 'shop_orders',
    'record_sources': ['shop_orders', 'shop_customers'],
    'owner_identifier': 'email',
    'settings': {'fx_rates': fx_rates, 'reporting_currency': var('cdp_reporting_currency', 'USD')},
} -%}
{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    pre_hook="{{ cdp.stage_fact_inputs(" ~ tojson(spec) ~ ") }}",
    post_hook=[
        "{{ cdp.delete_vanished_rows('order_id', 'shop_orders') }}",
        "{{ cdp.save_fact_state() }}",
    ]
) }}
-- depends_on: {{ ref('stg_privacy__erasure_scope') }}

{#- One row per staged order, attributed to a customer and priced in the
    reporting currency. Attribution, in order of trust: the identity layer's
    decision for the order record itself (which covers guest checkouts through
    their email), the order's shop account, then the order email when exactly one
    customer holds it. Orders of a tombstoned customer stay (revenue is not
    personal data) but lose their customer_id. -#}
{%- set incremental_run = cdp.fact_state_is_current(spec) %}

with

{% if incremental_run -%}
{#- An incremental run recomputes the orders whose result can differ from
    what the table holds: new order versions (with their lines), and orders
    whose lookups changed (the order's own record, its shop account, the owner
    of its email, the erasure of that customer). Orders do not depend on each
    other. -#}
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

changed_shop_customers as (

    select substr(record_key, length('shop_customers:') + 1) as shop_customer_id
    from changed_records
    where record_key like 'shop_customers:%'

),

{#- One select per reason, as in fct_events: each filter reaches the scan on
    its own (the watermark prunes row groups, a semi-join on a small or empty
    set filters one column), where one scan with an `or` read every column of
    every staged order. -#}
touched_orders as (

    select order_id
    from {{ ref('stg_shop__orders') }}
    where _loaded_at > {{ cdp.fact_state_watermark() }}
    union
    select order_id
    from {{ ref('stg_shop__orders') }}
    where record_key in (select record_key from changed_records)
    union
    select order_id
    from {{ ref('stg_shop__orders') }}
    where shop_customer_id in (select shop_customer_id from changed_shop_customers)
    union
    select order_id
    from {{ ref('stg_shop__orders') }}
    where email in (select input_value from changed_inputs where input_type = 'email')

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    where order_id in (select order_id from touched_orders)

),
{%- else -%}
orders as (

    select * from {{ ref('stg_shop__orders') }}

),
{%- endif %}

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

customer_records as (

    select * from {{ ref('dim_customer_records') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

fx_rates as (

    {%- for currency, rate in fx_rates.items() %}
    select
        cast('{{ currency | upper }}' as {{ dbt.type_string() }}) as currency,
        cast({{ rate }} as decimal(18, 6)) as rate_to_reporting
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

-- a linkable email held by exactly one customer (a shared or junk email
-- attributes nothing)
email_owners as (

    {%- if incremental_run %}
    -- the owners the pre-hook listed (identifier_owners), not aggregated again
    select input_value as email, customer_id
    from {{ cdp.fact_inputs_relation() }}
    where input_type = 'email'
    {%- else %}
    select identifier_value as email, customer_id
    from ({{ cdp.identifier_owners('email') }}) as owners
    {%- endif %}

),

line_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as item_quantity
    from order_lines
    {%- if incremental_run %}
    where order_id in (select order_id from orders)
    {%- endif %}
    group by order_id

),

attributed as (

    select
        orders.*,
        order_record.customer_id as order_record_customer_id,
        shop_account.customer_id as shop_account_customer_id,
        email_owners.customer_id as email_customer_id
    from orders
    left join customer_records as order_record
        on order_record.record_key = orders.record_key
    left join customer_records as shop_account
        on shop_account.record_key = 'shop_customers:' || orders.shop_customer_id
    left join email_owners
        on email_owners.email = orders.email

),

resolved as (

    select
        *,
        coalesce(order_record_customer_id, shop_account_customer_id, email_customer_id) as resolved_customer_id,
        case
            when order_record_customer_id is not null then 'order_record'
            when shop_account_customer_id is not null then 'shop_account'
            when email_customer_id is not null then 'email'
        end as resolved_method
    from attributed

),

resolved_all as (

    select
        ----------  ids
        resolved.order_id,
        case when erased_customers.customer_id is null then resolved.resolved_customer_id end as customer_id,
        case
            when erased_customers.customer_id is not null then 'erased_customer'
            else coalesce(resolved.resolved_method, 'unattributed')
        end as attribution_method,
        resolved.record_key,
        resolved.shop_customer_id,
        resolved.is_guest_checkout,

        ----------  status
        resolved.order_status,
        resolved.order_status = 'paid' as is_paid,
        resolved.order_status = 'refunded' as is_refunded,
        resolved.order_status = 'cancelled' as is_cancelled,
        -- placed: the customer went through with it (even if it was later refunded or is unpaid yet)
        resolved.order_status <> 'cancelled' as is_placed,

        ----------  amounts
        resolved.currency,
        resolved.total_price,
        '{{ var('cdp_reporting_currency', 'USD') }}' as reporting_currency,
        fx_rates.rate_to_reporting,
        cast(round(resolved.total_price * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as total_price_reporting,
        -- revenue the business keeps: paid orders only (refunds are full refunds)
        cast(case
            when resolved.order_status = 'paid' then round(resolved.total_price * fx_rates.rate_to_reporting, 2)
            when fx_rates.rate_to_reporting is not null then 0
        end as decimal(18, 2)) as net_revenue,
        cast(coalesce(line_totals.line_count, 0) as integer) as line_count,
        cast(coalesce(line_totals.item_quantity, 0) as integer) as item_quantity,
        resolved.is_line_items_invalid,

        ----------  timestamps
        resolved.created_at as ordered_at,
        resolved.updated_at

    from resolved
    left join erased_customers
        on erased_customers.customer_id = resolved.resolved_customer_id
    left join fx_rates
        on fx_rates.currency = resolved.currency
    left join line_totals
        on line_totals.order_id = resolved.order_id

),

final as (

    select * from resolved_all

)

select * from final
