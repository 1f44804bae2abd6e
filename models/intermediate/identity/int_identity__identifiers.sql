{#- Every identifier of every node as a typed value. -#}
with

nodes as (

    select * from {{ ref('int_identity__nodes') }}

),

{% set identifier_columns = ['email', 'phone', 'app_user_id', 'shop_customer_id', 'anonymous_id'] %}

unpivoted as (

    {% for column in identifier_columns %}
    select
        record_key,
        source_table,
        account_key,
        '{{ column }}' as identifier_type,
        {{ column }} as identifier_value,
        observed_at
    from nodes
    where {{ column }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        *,
        case identifier_type
            {%- for t, priority in cdp.identity_config()['priority'].items() %}
            when '{{ t }}' then {{ priority }}
            {%- endfor %}
        end as identifier_priority
    from unpivoted

)

select * from final
