{#- Post-hook of an incremental fact: delete the rows whose key is no longer
    in the staged input (an erased record: staging dropped it). -#}
{% macro delete_vanished_rows(key, upstream) -%}
    delete from {{ this }}
    where {{ key }} not in (
        select {{ key }} from {{ ref(upstream) }} where {{ key }} is not null
    )
{%- endmacro %}
