{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{% if is_incremental() %}delete from {{ this }} where customer_id in (select customer_id from {{ ref('erased_customers') }}) or customer_id not in (select customer_id from {{ ref('dim_customers') }}){% endif %}",
) }}

{#- Consent per customer and purpose. The latest statement wins, whatever its
    source; on a tie a refusal beats a grant, then the consent platform beats
    the shop flag, which beats the newsletter form. Without any statement the
    purpose's default applies: not granted for the marketing purposes
    (email_marketing, sms_marketing, advertising); analytics follows the var
    `cdp_consent_defaults` (granted unless refused, by default).

    Incremental: a customer's rows depend only on its own statement groups
    and the defaults, so a run rebuilds only the customers whose statements
    changed, joined or left (`inputs_fingerprint`,
    macros/marts/customer_inputs_fingerprint.sql); customers erased or merged
    away are deleted by the post-hook. int_consent__statements is rebuilt on
    every run, so a statement that the run time has reached, a merge or a new
    holder of an identifier shows there and changes the fingerprint. -#}
{%- set purposes = ['email_marketing', 'sms_marketing', 'advertising', 'analytics'] -%}
{%- set marketing_purposes = ['email_marketing', 'sms_marketing', 'advertising'] -%}
{%- set defaults = var('cdp_consent_defaults', {'email_marketing': false, 'sms_marketing': false,
                                                 'advertising': false, 'analytics': true}) -%}
{#- the statement columns this model reads: only these are hashed, so a new
    holder of a shared identifier (matched_customer_count) rebuilds nobody -#}
{%- set statement_columns = [
    'customer_id', 'purpose', 'is_granted', 'stated_at', 'source_table', 'stated_via',
    'source_record_key', 'source_priority', 'statement_count', 'first_stated_at',
] -%}

with

{% if is_incremental() -%}
{#- one row per active customer (a customer without statements has rows too,
    and a new default must reach it) plus one per statement group -#}
input_fingerprints as (

    select customer_id, {{ cdp.bit_xor_agg('row_fingerprint') }} as inputs_fingerprint
    from (
        select customers.customer_id, {{ cdp.row_hash(['customers.customer_id'], defaults) }} as row_fingerprint
        from {{ ref('dim_customers') }} as customers
        where customers.customer_id not in (select customer_id from {{ ref('erased_customers') }})
        union all
        select customer_id, {{ cdp.row_hash(statement_columns, defaults) }}
        from {{ ref('int_consent__statements') }}
    ) as input_rows
    group by customer_id

),

changed_customers as (

    {{ cdp.changed_customers('input_fingerprints') }}

),

{% endif -%}

customers as (

    select customer_id from {{ ref('dim_customers') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from changed_customers)
    {%- endif %}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

statements as (

    select * from {{ ref('int_consent__statements') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from changed_customers)
    {%- endif %}

),

purposes as (

    {%- for purpose in purposes %}
    select
        '{{ purpose }}' as purpose,
        {{ 'true' if purpose in marketing_purposes else 'false' }} as is_marketing_purpose,
        {#- marketing is never granted by default, whatever the var says -#}
        {{ 'true' if (defaults.get(purpose, false) and purpose not in marketing_purposes) else 'false' }}
            as is_granted_by_default
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

active_customers as (

    select customers.customer_id
    from customers
    left join erased_customers
        on erased_customers.customer_id = customers.customer_id
    where erased_customers.customer_id is null

),

-- stored on every row: what the next incremental run compares
fingerprints as (

    select customer_id, {{ cdp.bit_xor_agg('row_fingerprint') }} as inputs_fingerprint
    from (
        select customer_id, {{ cdp.row_hash(['customer_id'], defaults) }} as row_fingerprint
        from active_customers
        union all
        select customer_id, {{ cdp.row_hash(statement_columns, defaults) }}
        from statements
    ) as input_rows
    group by customer_id

),

-- the latest statement of each group competes (a group's outcome and source are fixed,
-- so its latest statement is its best under these rules)
ranked_statements as (

    select
        *,
        row_number() over (
            partition by customer_id, purpose
            order by
                stated_at desc nulls last,
                case when is_granted then 1 else 0 end,
                source_priority,
                source_record_key
        ) as statement_rank
    from statements

),

-- each row of int_consent__statements is a group of statements with its
-- count, first and latest; these combine across groups
statement_history as (

    select
        customer_id,
        purpose,
        sum(statement_count) as statement_count,
        min(case when is_granted then first_stated_at end) as first_granted_at,
        max(case when is_granted then stated_at end) as last_granted_at,
        max(case when not is_granted then stated_at end) as last_refused_at
    from statements
    group by customer_id, purpose

),

latest_statements as (

    select * from ranked_statements
    where statement_rank = 1

),

final as (

    select
        ----------  ids
        active_customers.customer_id,
        purposes.purpose,
        active_customers.customer_id || ':' || purposes.purpose as customer_purpose_key,

        ----------  decision
        coalesce(latest_statements.is_granted, purposes.is_granted_by_default) as is_granted,
        case
            when latest_statements.is_granted then 'granted'
            when latest_statements.is_granted = false and statement_history.first_granted_at is not null
                and statement_history.first_granted_at <= latest_statements.stated_at then 'revoked'
            when latest_statements.is_granted = false then 'refused'
            when purposes.is_granted_by_default then 'default_granted'
            else 'no_statement'
        end as consent_status,
        purposes.is_marketing_purpose,

        ----------  the statement that decided it
        latest_statements.stated_at as decided_at,
        latest_statements.source_table as decided_by_source,
        latest_statements.stated_via as decided_via,

        ----------  history
        cast(coalesce(statement_history.statement_count, 0) as integer) as statement_count,
        statement_history.first_granted_at,
        statement_history.last_granted_at,
        statement_history.last_refused_at,

        ----------  what an incremental run compares
        fingerprints.inputs_fingerprint

    from active_customers
    inner join fingerprints on fingerprints.customer_id = active_customers.customer_id
    cross join purposes
    left join latest_statements
        on latest_statements.customer_id = active_customers.customer_id
        and latest_statements.purpose = purposes.purpose
    left join statement_history
        on statement_history.customer_id = active_customers.customer_id
        and statement_history.purpose = purposes.purpose

)

select * from final
