{#- Consent per customer and purpose. The latest statement wins, whatever its
    source; on a tie a refusal beats a grant, then the consent platform beats
    the shop flag, which beats the newsletter form. Without any statement the
    purpose's default applies: not granted for the marketing purposes
    (email_marketing, sms_marketing, advertising); analytics follows the var
    `cdp_consent_defaults` (granted unless refused, by default). -#}
{%- set purposes = ['email_marketing', 'sms_marketing', 'advertising', 'analytics'] -%}
{%- set marketing_purposes = ['email_marketing', 'sms_marketing', 'advertising'] -%}
{%- set defaults = var('cdp_consent_defaults', {'email_marketing': false, 'sms_marketing': false,
                                                 'advertising': false, 'analytics': true}) -%}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

statements as (

    select * from {{ ref('int_consent__statements') }}

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
        statement_history.last_refused_at

    from active_customers
    cross join purposes
    left join latest_statements
        on latest_statements.customer_id = active_customers.customer_id
        and latest_statements.purpose = purposes.purpose
    left join statement_history
        on statement_history.customer_id = active_customers.customer_id
        and statement_history.purpose = purposes.purpose

)

select * from final
