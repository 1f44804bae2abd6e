{#- One row per identifier value with the verdict of the over-merge guards:
    a value on the blocklist, or held by more accounts than its cap, links
    nothing (`is_linkable` false) and says why. -#}
{%- set caps = cdp.identity_config()['max_accounts_per_identifier'] -%}

with

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

counted as (

    select
        identifier_type,
        identifier_value,
        count(*) as record_count,
        count(distinct account_key) as account_count,
        min(identifier_priority) as identifier_priority
    from identifiers
    group by identifier_type, identifier_value

),

final as (

    select
        identifier_type,
        identifier_value,
        record_count,
        account_count,
        identifier_priority,
        case identifier_type
            {%- for t, cap in caps.items() %}
            when '{{ t }}' then {{ cap }}
            {%- endfor %}
        end as account_cap,
        case
            when {{ cdp.is_blocklisted_identifier('identifier_type', 'identifier_value') }}
                then 'blocklisted ' || identifier_type
            {%- for t, cap in caps.items() %}
            when identifier_type = '{{ t }}' and account_count > {{ cap }}
                then '{{ t }} shared by ' || cast(account_count as {{ dbt.type_string() }}) || ' accounts (cap {{ cap }})'
            {%- endfor %}
        end as block_reason
    from counted

)

select
    *,
    block_reason is null as is_linkable
from final
