{#- Fails on customers (column_name holds a customer_id) whose consent for
    `purpose` is not granted in customer_consent, or who have no consent row at
    all: an audience for a channel must only hold people who said yes to it. -#}
{% test has_granted_consent(model, column_name, purpose) %}
select audience.{{ column_name }}
from {{ model }} as audience
left join {{ ref('customer_consent') }} as consent
    on consent.customer_id = audience.{{ column_name }}
    and consent.purpose = '{{ purpose }}'
where consent.is_granted is null or not consent.is_granted
{% endtest %}
