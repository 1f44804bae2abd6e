{#- The unit erasure and the row accounting work with: `key:<primary key>`, or
    `row:<md5 of the row as landed>` for a row without a key (always
    quarantined). One place, because the identifier index, the erasure scope,
    the raw row ledger and the row accounting must agree on it. -#}
{% macro raw_record_id(key, row_hash) -%}
    coalesce('key:' || {{ key }}, 'row:' || {{ row_hash }})
{%- endmacro %}
