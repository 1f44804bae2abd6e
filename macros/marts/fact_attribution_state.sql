{#- What an incremental fact's attribution read, kept between runs so that an
    incremental run can tell which inputs changed (docs/incremental-facts.md).

    A fact attributes a staged row to a customer through a few lookups: the
    identity decision for a record (dim_customer_records), the owner of an
    identifier value (identifier_owners), and whether that customer is erased.
    `fact_attribution_inputs(spec)` lists those lookups as rows
        (input_type, input_value, customer_id, is_erased, loaded_through):
      - ('record', record_key)            for the records of `spec.record_sources`;
      - (<identifier type>, value)        for the owners of `spec.owner_identifier`;
      - ('_loaded_at', null)              the staged input's newest `_loaded_at`
                                          (loaded_through): the watermark;
      - ('_config', <fingerprint>)        the settings and model code the rows were
                                          computed with.
    The pre-hook `stage_fact_inputs(spec)` lists them once per run into
    `<fact>__inputs` (about 3M rows at 1M people: listing them costs about as much
    as the rest of an incremental run); the body diffs that table against
    `<fact>__state` (`changed_fact_inputs`): only rows that read a changed lookup,
    or staged rows newer than the watermark, can differ. The post-hook
    `save_fact_state()` renames `<fact>__inputs` to `<fact>__state`, in the same
    transaction as the fact's write on DuckDB.

    `spec` is a dict the model sets once and passes to the body and the hooks:
    key, staged (model), source_table (raw table, for erasures), record_sources,
    owner_identifier, settings (anything else the attribution depends on). -#}

{% macro fact_state_relation() -%}
    {{ return(cdp.scratch_relation(this, '__state')) }}
{%- endmacro %}

{#- This run's lookups: written by the pre-hook, read by the body, renamed to
    the state by the post-hook. -#}
{% macro fact_inputs_relation() -%}
    {{ return(cdp.scratch_relation(this, '__inputs')) }}
{%- endmacro %}

{#- Settings, model code (its checksum) and the spec: a change of any of them
    makes the next run recompute every row. -#}
{% macro fact_fingerprint(spec) -%}
    {%- set checksum = (model.checksum.checksum if model is defined and model.checksum is defined else '') -%}
    {{ return(local_md5(tojson(spec, sort_keys=true) ~ '|' ~ checksum)) }}
{%- endmacro %}

{% macro fact_attribution_inputs(spec) -%}
    select
        'record' as input_type,
        records.record_key as input_value,
        records.customer_id,
        erased.customer_id is not null as is_erased,
        cast(null as {{ dbt.type_timestamp() }}) as loaded_through
    from {{ ref('dim_customer_records') }} as records
    left join {{ ref('erased_customers') }} as erased
        on erased.customer_id = records.customer_id
    where records.source_table in ('{{ spec.record_sources | join("', '") }}')
    union all
    select
        '{{ spec.owner_identifier }}',
        owners.identifier_value,
        owners.customer_id,
        erased.customer_id is not null,
        cast(null as {{ dbt.type_timestamp() }})
    from ({{ cdp.identifier_owners(spec.owner_identifier) }}) as owners
    left join {{ ref('erased_customers') }} as erased
        on erased.customer_id = owners.customer_id
    union all
    select
        '_loaded_at',
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as boolean),
        cast(max(_loaded_at) as {{ dbt.type_timestamp() }})
    from {{ ref(spec.staged) }}
    union all
    select
        '_config',
        '{{ cdp.fact_fingerprint(spec) }}',
        cast(null as {{ dbt.type_string() }}),
        cast(null as boolean),
        cast(null as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- True when an incremental run can trust the state: it exists and was
    written with the same fingerprint. Otherwise the run recomputes every row
    (the first run after an upgrade, a changed setting or model). -#}
{% macro fact_state_is_current(spec) -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set state = adapter.get_relation(
            database=this.database, schema=this.schema, identifier=this.identifier ~ '__state') -%}
    {%- if state is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
            "select count(*) from " ~ state ~ " where input_type = '_config' and input_value = '"
            ~ cdp.fact_fingerprint(spec) ~ "'") -%}
    {{ return(found.columns[0].values()[0] | int > 0) }}
{%- endmacro %}

{#- The staged input's newest `_loaded_at` at the last run. -#}
{% macro fact_state_watermark() -%}
    (select coalesce(max(loaded_through), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }}))
     from {{ cdp.fact_state_relation() }} where input_type = '_loaded_at')
{%- endmacro %}

{#- (input_type, input_value) of every lookup that differs from the state:
    changed, new or gone. `inputs` is a CTE holding fact_attribution_inputs;
    (input_type, input_value) is unique in both, so one full outer join finds
    the differences (cheaper than EXCEPT both ways). -#}
{% macro changed_fact_inputs(inputs) -%}
    select
        coalesce(current_inputs.input_type, previous_inputs.input_type) as input_type,
        coalesce(current_inputs.input_value, previous_inputs.input_value) as input_value
    from {{ inputs }} as current_inputs
    full outer join {{ cdp.fact_state_relation() }} as previous_inputs
        on previous_inputs.input_type = current_inputs.input_type
        and previous_inputs.input_value = current_inputs.input_value
    where coalesce(current_inputs.input_type, previous_inputs.input_type) not in ('_loaded_at', '_config')
      and (
          current_inputs.input_type is null
          or previous_inputs.input_type is null
          or current_inputs.customer_id is distinct from previous_inputs.customer_id
          or current_inputs.is_erased is distinct from previous_inputs.is_erased
      )
{%- endmacro %}

{#- Pre-hook (full and incremental runs): list this run's lookups once. -#}
{% macro stage_fact_inputs(spec) -%}
    {{ cdp.create_scratch_table(cdp.fact_inputs_relation()) }} as
    {{ cdp.fact_attribution_inputs(spec) }}
{%- endmacro %}

{#- Post-hook: the state becomes what this run read (a rename, not a copy). -#}
{% macro save_fact_state() -%}
    {{ return(adapter.dispatch('save_fact_state', 'cdp')()) }}
{%- endmacro %}

{#- DuckDB's RENAME TO takes a bare name (the table stays in its schema). -#}
{% macro default__save_fact_state() -%}
    drop table if exists {{ cdp.fact_state_relation() }};
    alter table {{ cdp.fact_inputs_relation() }} rename to {{ cdp.fact_state_relation().identifier }}
{%- endmacro %}

{#- Snowflake resolves a bare name in RENAME TO against the session's schema,
    not the table's: the new name is fully qualified. -#}
{% macro snowflake__save_fact_state() -%}
    drop table if exists {{ cdp.fact_state_relation() }};
    alter table {{ cdp.fact_inputs_relation() }} rename to {{ cdp.fact_state_relation() }}
{%- endmacro %}
