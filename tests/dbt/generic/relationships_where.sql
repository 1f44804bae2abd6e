{#- Like `relationships`, restricted to rows matching `where` in the child. -#}
{% test relationships_where(model, column_name, to, field, where='1=1') %}
select child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent on child.{{ column_name }} = parent.{{ field }}
where child.{{ column_name }} is not null and parent.{{ field }} is null and ({{ where }})
{% endtest %}
