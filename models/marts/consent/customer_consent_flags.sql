{#- customer_consent pivoted: one row per customer, one flag per purpose, the
    form audiences and destinations read. -#}
{%- set purposes = ['email_marketing', 'sms_marketing', 'advertising', 'analytics'] -%}

with

customer_consent as (

    select * from {{ ref('customer_consent') }}

),

final as (

    select
        customer_id,
        {%- for purpose in purposes %}
        coalesce(max(case when purpose = '{{ purpose }}' then case when is_granted then 1 else 0 end end), 0) = 1
            as {{ purpose }}_consent,
        max(case when purpose = '{{ purpose }}' then consent_status end) as {{ purpose }}_consent_status,
        max(case when purpose = '{{ purpose }}' then decided_at end) as {{ purpose }}_consent_decided_at{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_consent
    group by customer_id

)

select * from final
