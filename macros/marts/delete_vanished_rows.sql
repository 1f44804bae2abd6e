{#- Keys of a fact whose staged row is gone. An incremental staging model
    loses a key only through an erasure: `is_staged` never stages a key in
    stg_privacy__erasure_scope and `delete_erased_records` deletes it. So the
    keys that can have vanished are exactly the source table's keys in the
    erasure scope (about 1 % of the keys): a semi-join on those, not a
    `not in` over every staged key. (A staging model rebuilt with
    --full-refresh from raw data that lost rows needs the facts rebuilt with
    it.) Column: the key. -#}
{% macro vanished_keys(key, source_table) -%}
    select source_record_id as {{ key }}
    from {{ ref('stg_privacy__erasure_scope') }}
    where source_table = '{{ source_table }}'
      and source_record_id is not null
{%- endmacro %}

{#- Post-hook of an incremental fact: delete the rows whose key is no longer
    in the staged input (an erased record: staging dropped it). -#}
{% macro delete_vanished_rows(key, source_table) -%}
    delete from {{ this }}
    where {{ key }} in ({{ cdp.vanished_keys(key, source_table) }})
{%- endmacro %}
