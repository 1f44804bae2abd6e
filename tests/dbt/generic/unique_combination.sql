{#- Fails on combinations of columns that occur more than once.

    `newest_by` (a column every row gets from the run that wrote it) limits the
    check to the combinations the newest write holds, compared against every
    row: for an append-only table whose earlier rows were checked when they
    were written, that is the whole check, and it does not group the whole
    table on every run (8 s for 20M rows at 1M people). A table written at
    once (a full build) gets the plain check: there the semi-join would cost
    five times as much as grouping every row. -#}
{% test unique_combination(model, combination_of_columns, newest_by=none) %}
{%- set columns = combination_of_columns | join(', ') %}
{%- set incremental_rows = false %}
{%- if newest_by and execute %}
    {%- set writes = run_query('select count(distinct ' ~ newest_by ~ ') from ' ~ model).columns[0].values()[0] %}
    {%- set incremental_rows = writes > 1 %}
{%- endif %}
select {{ columns }}, count(*) as occurrences
from {{ model }} as checked
{%- if incremental_rows %}
where exists (
    select 1 from {{ model }} as newest
    where newest.{{ newest_by }} = (select max({{ newest_by }}) from {{ model }})
    {%- for column in combination_of_columns %}
      and newest.{{ column }} = checked.{{ column }}
    {%- endfor %}
)
{%- endif %}
group by {{ columns }}
having count(*) > 1
{% endtest %}
