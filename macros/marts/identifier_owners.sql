{#- The customer that owns an identifier value: a linkable (not junk, not
    over-shared) value held by exactly one customer. A shared or junk value
    owns nothing. Columns: identifier_value, customer_id. -#}
{% macro identifier_owners(identifier_type) -%}
    select
        identifier_value,
        min(customer_id) as customer_id
    from {{ ref('dim_customer_identifiers') }}
    where identifier_type = '{{ identifier_type }}'
      and is_linkable
    group by identifier_value
    having count(distinct customer_id) = 1
{%- endmacro %}
