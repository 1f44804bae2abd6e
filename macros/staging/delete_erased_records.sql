{#- Post-hook of the incremental staging models: delete the records erased
    since the last run. An incremental run only replaces the keys it reads, so
    without this a record staged before its deletion request arrived would
    stay. Keyed like the staging filter (usable rows always have a key). -#}
{% macro delete_erased_records(source_table) -%}
    {%- set key = cdp.staging_inventory() | selectattr('table', 'equalto', source_table) | map(attribute='key') | first -%}
    delete from {{ this }}
    where {{ key }} in (
        select source_record_id
        from {{ ref('stg_privacy__erasure_scope') }}
        where source_table = '{{ source_table }}'
          and source_record_id is not null
    )
{%- endmacro %}
