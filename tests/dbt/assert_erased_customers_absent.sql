{#- No tombstoned customer_id may appear in any customer-keyed model, audience
    or snapshot downstream of identity: the erasure removes the whole customer. -#}
{%- set relations = [
    ref('customer_traits'), ref('customer_profiles'), ref('customer_consent'), ref('customer_consent_flags'),
    ref('fct_orders'), ref('fct_order_lines'), ref('fct_events'),
    ref('aud_high_value_customers'), ref('aud_cart_abandoners'), ref('aud_lapsed_customers'),
    ref('aud_newsletter_never_purchased'), ref('aud_high_intent_browsers'),
    ref('audience_membership'), ref('audience_membership_history'),
    ref('dim_customers_snapshot'), ref('audience_membership_snapshot'),
] -%}

with

erased_customers as (

    select * from {{ ref('erased_customers') }}

),

found as (

    {% for relation in relations %}
    select '{{ relation.identifier }}' as relation_name, customer_id
    from {{ relation }}
    where customer_id in (select customer_id from erased_customers)
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from found
