{#- Fails on values that are not normalised, syntactically valid emails. -#}
{% test valid_email(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and ({{ cdp.normalize_email(column_name) }} is null or {{ cdp.normalize_email(column_name) }} <> {{ column_name }})
{% endtest %}
