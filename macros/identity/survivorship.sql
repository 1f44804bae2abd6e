{#- Rank a customer's records for one golden-record attribute. Rules:
    source_priority (the order of `sources`, then most recent), most_recent,
    first_non_null (oldest observation) and most_frequent (the value seen on
    most records, then most recent). Rank 1 wins. -#}
{% macro survivorship_rank(rule, value_column, sources=[]) -%}
    row_number() over (
        partition by customer_id
        order by
        {%- if rule == 'source_priority' %}
            case source_table
                {%- for s in sources %}
                when '{{ s }}' then {{ loop.index }}
                {%- endfor %}
                else {{ sources | length + 1 }}
            end,
            observed_at desc nulls last,
        {%- elif rule == 'most_recent' %}
            observed_at desc nulls last,
        {%- elif rule == 'first_non_null' %}
            observed_at asc nulls last,
        {%- elif rule == 'most_frequent' %}
            value_frequency desc,
            observed_at desc nulls last,
        {%- else %}
            {{ exceptions.raise_compiler_error("unknown survivorship rule '" ~ rule ~ "' for " ~ value_column) }}
        {%- endif %}
            record_key
    )
{%- endmacro %}
