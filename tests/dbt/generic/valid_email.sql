{#- Fails on values that are not normalised, syntactically valid emails
    (values that normalize_email would change or reject). -#}
{% test valid_email(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ cdp.is_normalized_email(column_name) }}
{% endtest %}
