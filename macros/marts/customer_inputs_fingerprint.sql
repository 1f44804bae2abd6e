{#- Customer-keyed marts rebuilt, on an incremental run, only for the customers
    whose inputs changed (docs/incremental-facts.md, "Customer marts").

    Every row carries `inputs_fingerprint`: an order-independent hash of every
    input row of its customer, salted with the model's code and settings, so a
    record that joins, leaves or changes alters its customers' fingerprints,
    and a new model version or setting alters all of them. An incremental run
    computes the fingerprints of the current inputs (one hash aggregate, no
    sort), keeps the customers whose fingerprint differs from the stored one
    (`changed_customers`) and rebuilds only those (delete+insert on
    customer_id); a post-hook deletes the customers that have no input left.
    Two different input sets of one customer collide with probability 2^-64. -#}

{#- The fingerprint of a customer's input rows: bit_xor_agg(row_hash(...)). -#}
{% macro inputs_fingerprint(columns, settings={}) -%}
    {{ return(cdp.bit_xor_agg(cdp.row_hash(columns, settings))) }}
{%- endmacro %}

{#- A 64-bit hash of one input row, salted with the model's code (its
    checksum) and `settings`. -#}
{% macro row_hash(columns, settings={}) -%}
    {%- set checksum = (model.checksum.checksum if model is defined and model.checksum is defined else '') -%}
    {%- set salt = local_md5(tojson(settings, sort_keys=true) ~ '|' ~ checksum) -%}
    hash({{ columns | join(', ') }}, '{{ salt }}')
{%- endmacro %}

{#- Order-independent aggregate of hashes: the xor of a customer's row hashes
    equals the xor of any partial xors of them. -#}
{% macro bit_xor_agg(expression) -%}
    {{ return(adapter.dispatch('bit_xor_agg', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__bit_xor_agg(expression) -%}
    bit_xor({{ expression }})
{%- endmacro %}

{% macro snowflake__bit_xor_agg(expression) -%}
    bitxor_agg({{ expression }})
{%- endmacro %}

{#- customer_id of every customer whose fingerprint in `fingerprints` (a CTE of
    customer_id, inputs_fingerprint) differs from the one stored in the model:
    changed or new. A table built before the fingerprint existed (an upgrade)
    has no stored fingerprints: every customer is rebuilt, once, and the
    model's on_schema_change='append_new_columns' adds the column. -#}
{% macro changed_customers(fingerprints) -%}
    {%- set stored_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list
        if execute else ['inputs_fingerprint'] -%}
    {%- if 'inputs_fingerprint' not in stored_columns %}
    select customer_id from {{ fingerprints }}
    {%- else %}
    select current_inputs.customer_id
    from {{ fingerprints }} as current_inputs
    left join (
        select customer_id, max(inputs_fingerprint) as inputs_fingerprint
        from {{ this }}
        group by customer_id
    ) as stored
        on stored.customer_id = current_inputs.customer_id
    where stored.inputs_fingerprint is null
        or stored.inputs_fingerprint <> current_inputs.inputs_fingerprint
    {%- endif %}
{%- endmacro %}
