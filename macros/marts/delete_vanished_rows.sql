{#- Rows of an incremental fact whose key left the staged input. An
    incremental staging model loses a key only through an erasure
    (`delete_erased_records`), so the candidates are the source table's keys in
    stg_privacy__erasure_scope, minus those still staged: an anti-join over
    what can have vanished, not a `not in` over every staged key. (A staging
    model rebuilt with --full-refresh from raw data that lost rows needs the
    facts rebuilt with it.) Column: the key. -#}
{% macro vanished_keys(key, upstream, source_table) -%}
    {%- set candidates -%}
        select source_record_id
        from {{ ref('stg_privacy__erasure_scope') }}
        where source_table = '{{ source_table }}'
          and source_record_id is not null
    {%- endset -%}
    select source_record_id as {{ key }} from ({{ candidates }}) as candidates
    except
    select {{ key }} from {{ ref(upstream) }}
    where {{ key }} in ({{ candidates }})
{%- endmacro %}

{#- Post-hook of an incremental fact: delete the rows whose key is no longer
    in the staged input (an erased record: staging dropped it). -#}
{% macro delete_vanished_rows(key, upstream, source_table) -%}
    delete from {{ this }}
    where {{ key }} in ({{ cdp.vanished_keys(key, upstream, source_table) }})
{%- endmacro %}
