{#- Fails on values that are not E.164 phone numbers (+, 8 to 15 digits). -#}
{% test valid_e164(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ cdp.regex_full_match(column_name, '[+][1-9][0-9]{7,14}') }}
{% endtest %}
