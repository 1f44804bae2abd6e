{#- Materialization: the over-merge guard of identity resolution in plain SQL.

    The model's query returns candidate edges (left_record_key,
    right_record_key, edge_kind, identifier_value, edge_priority,
    match_probability, match_weight, is_linkable, block_reason). Config:
    `limits` ({identifier_type: max distinct values per customer}, checked in
    this order) and `record_values_model` (a model with record_key,
    identifier_type, identifier_value; the model must declare it with
    `-- depends_on: {{ ref(...) }}`).

    The result is what the greedy union-find of int_identity__edge_decisions.py
    decides: edges are taken strongest first (priority, then probability, then
    record keys); an unlinkable edge is dropped with its block reason; an edge
    whose ends are already one customer is accepted ('already in the same
    customer'); an edge whose merge would give one customer more values of an
    identifier type than its limit is dropped with the reason; any other edge is
    accepted and merges the two customers.

    Set-based, the same decisions come out of rounds that each decide every
    edge whose outcome no undecided stronger edge can change:
    1. groups: connected components of all linkable edges. A group whose
       records together break no limit can never trigger the guard, so all its
       edges are accepted; which of them merge (reason null) and which are
       redundant is Kruskal's minimum spanning forest by edge order, found by
       Boruvka rounds (each customer's strongest outgoing edge merges).
    2. in a group that does break a limit, per round: an edge whose ends are one
       customer is accepted as redundant; an edge whose two customers together
       already break a limit is doomed (customers only grow, so it breaks it at
       its turn too) and is dropped as soon as no stronger open edge touches
       either customer, so that its reason names the values it meets at its
       turn; an open edge that is the strongest open edge of both its customers
       is accepted now: nothing stronger can touch them first.
    Each round decides at least the strongest undecided edge of every group, so
    it terminates; Boruvka groups need O(log n) rounds, groups that break a
    limit at most one round per edge along their longest chain of strictly
    ordered merges (see docs/snowflake.md). -#}
{% materialization guarded_edge_decisions, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set limits = config.require('limits') -%}
    {%- set max_rounds = config.get('max_rounds', 500) -%}
    {%- set values_relation = ref(config.require('record_values_model')) -%}
    {%- set scratch = {} -%}
    {%- for name in ['candidates', 'record_values', 'cc_edges', 'cc_labels', 'cc_next', 'groups', 'bad_groups',
                      'labels', 'component_values', 'decided', 'round_edges', 'merge_edges', 'merge_labels', 'merge_next'] -%}
        {%- do scratch.update({name: cdp.scratch_relation(this, '__ed_' ~ name)}) -%}
    {%- endfor -%}
    {%- set limit_order -%}
        case identifier_type {%- for t in limits %} when '{{ t }}' then {{ loop.index }}{% endfor %} end
    {%- endset -%}
    {%- set limit_of -%}
        case identifier_type {%- for t, n in limits.items() %} when '{{ t }}' then {{ n }}{% endfor %} end
    {%- endset -%}

    {{ run_hooks(pre_hooks) }}
    {% do adapter.create_schema(target_relation) %}

    {#- candidates in the order the guard takes them -#}
    {% call statement('ed_candidates') %}
        {{ cdp.create_scratch_table(scratch.candidates) }} as
        select
            model_edges.*,
            row_number() over (
                order by edge_priority, match_probability desc, left_record_key, right_record_key,
                    edge_kind, identifier_value
            ) as edge_rank
        from ({{ sql }}) as model_edges
    {% endcall %}
    {% call statement('ed_values') %}
        {{ cdp.create_scratch_table(scratch.record_values) }} as
        select distinct record_key, identifier_type, identifier_value
        from {{ values_relation }}
        where identifier_type in ('{{ limits.keys() | join("', '") }}')
    {% endcall %}

    {#- 1. groups: components of every linkable edge (every record a node) -#}
    {% call statement('ed_group_edges') %}
        {{ cdp.create_scratch_table(scratch.cc_edges) }} as
        select left_record_key as node, right_record_key as neighbour from {{ scratch.candidates }} where is_linkable
        union
        select right_record_key, left_record_key from {{ scratch.candidates }} where is_linkable
        union
        select left_record_key, left_record_key from {{ scratch.candidates }}
        union
        select right_record_key, right_record_key from {{ scratch.candidates }}
    {% endcall %}
    {% call statement('ed_group_init') %}
        {{ cdp.create_scratch_table(scratch.cc_labels) }} as
        select node, min(neighbour) as label from {{ scratch.cc_edges }} group by node
    {% endcall %}
    {%- set group_rounds = cdp.propagate_min_labels(scratch.cc_edges, scratch.cc_labels, scratch.cc_next) -%}
    {% call statement('ed_groups') %}
        {{ cdp.create_scratch_table(scratch.groups) }} as
        select node as record_key, label as group_key from {{ scratch.cc_labels }}
    {% endcall %}
    {% call statement('ed_bad_groups') %}
        {{ cdp.create_scratch_table(scratch.bad_groups) }} as
        select distinct group_key
        from (
            select groups.group_key, v.identifier_type, count(distinct v.identifier_value) as value_count
            from {{ scratch.groups }} as groups
            inner join {{ scratch.record_values }} as v on v.record_key = groups.record_key
            group by groups.group_key, v.identifier_type
        ) as per_type
        where value_count > {{ limit_of }}
    {% endcall %}

    {#- state: every record's customer (label), each customer's limited values,
        and the decisions taken so far -#}
    {% call statement('ed_labels') %}
        {{ cdp.create_scratch_table(scratch.labels) }} as
        select record_key, record_key as label from {{ scratch.groups }}
    {% endcall %}
    {% call statement('ed_component_values') %}
        {{ cdp.create_scratch_table(scratch.component_values) }} as
        select record_key as label, identifier_type, identifier_value from {{ scratch.record_values }}
    {% endcall %}
    {% call statement('ed_decided') %}
        {{ cdp.create_scratch_table(scratch.decided) }} as
        select
            edge_rank,
            cast('dropped' as {{ dbt.type_string() }}) as decision,
            cast(block_reason as {{ dbt.type_string() }}) as decision_reason
        from {{ scratch.candidates }}
        where not is_linkable
    {% endcall %}

    {%- set state = namespace(done=false, rounds=0) -%}
    {%- for round in range(max_rounds) if not state.done -%}
        {#- the undecided edges with their customers now, and this round's verdicts -#}
        {% call statement('ed_round_edges') %}
            {{ cdp.create_scratch_table(scratch.round_edges) }} as
            with undecided as (
                select
                    c.edge_rank,
                    left_label.label as left_label,
                    right_label.label as right_label,
                    groups.group_key,
                    bad.group_key is not null as group_breaks_limit
                from {{ scratch.candidates }} as c
                inner join {{ scratch.labels }} as left_label on left_label.record_key = c.left_record_key
                inner join {{ scratch.labels }} as right_label on right_label.record_key = c.right_record_key
                inner join {{ scratch.groups }} as groups on groups.record_key = c.left_record_key
                left join {{ scratch.bad_groups }} as bad on bad.group_key = groups.group_key
                where c.is_linkable
                  and not exists (select 1 from {{ scratch.decided }} as d where d.edge_rank = c.edge_rank)
            ),
            -- the first limit an edge's merge would break (only where a group breaks one)
            violations as (
                select edge_rank, identifier_type, value_count, limit_order, limit_value
                from (
                    select
                        merged.edge_rank,
                        merged.identifier_type,
                        count(distinct merged.identifier_value) as value_count,
                        {{ limit_order }} as limit_order,
                        {{ limit_of }} as limit_value
                    from (
                        select u.edge_rank, v.identifier_type, v.identifier_value
                        from undecided as u
                        inner join {{ scratch.component_values }} as v on v.label = u.left_label
                        where u.group_breaks_limit and u.left_label <> u.right_label
                        union all
                        select u.edge_rank, v.identifier_type, v.identifier_value
                        from undecided as u
                        inner join {{ scratch.component_values }} as v on v.label = u.right_label
                        where u.group_breaks_limit and u.left_label <> u.right_label
                    ) as merged
                    group by merged.edge_rank, merged.identifier_type
                ) as counted
                where value_count > limit_value
            ),
            first_violation as (
                select edge_rank, identifier_type, value_count, limit_value
                from (
                    select violations.*, row_number() over (partition by edge_rank order by limit_order) as nth
                    from violations
                ) as ordered
                where nth = 1
            ),
            classified as (
                select
                    u.*,
                    case
                        when u.left_label = u.right_label then 'redundant'
                        when f.edge_rank is not null then 'violating'
                        else 'open'
                    end as status,
                    'would give one customer ' || cast(f.value_count as {{ dbt.type_string() }}) || ' '
                        || f.identifier_type || ' values (limit ' || cast(f.limit_value as {{ dbt.type_string() }}) || ')'
                        as violation_reason
                from undecided as u
                left join first_violation as f on f.edge_rank = u.edge_rank
            ),
            -- each customer's strongest open edge
            strongest as (
                select label, min(edge_rank) as edge_rank
                from (
                    select left_label as label, edge_rank from classified where status = 'open'
                    union all
                    select right_label, edge_rank from classified where status = 'open'
                ) as ends
                group by label
            )
            select
                classified.*,
                coalesce(left_best.edge_rank = classified.edge_rank, false) as strongest_of_left,
                coalesce(right_best.edge_rank = classified.edge_rank, false) as strongest_of_right,
                -- a doomed edge is dropped at its turn: once no stronger open edge can still
                -- grow either customer, so its reason counts the values it would really meet
                coalesce(left_best.edge_rank > classified.edge_rank, true)
                    and coalesce(right_best.edge_rank > classified.edge_rank, true) as at_its_turn
            from classified
            left join strongest as left_best on left_best.label = classified.left_label
            left join strongest as right_best on right_best.label = classified.right_label
        {% endcall %}
        {%- set open_edges = run_query("select count(*) from " ~ scratch.round_edges).columns[0].values()[0] -%}
        {%- if open_edges == 0 -%}
            {%- set state.done = true -%}
        {%- else -%}
            {#- merging edges: Boruvka in groups that break no limit, mutual strongest elsewhere -#}
            {% call statement('ed_decide') %}
                insert into {{ scratch.decided }} (edge_rank, decision, decision_reason)
                select
                    edge_rank,
                    case when status = 'violating' then 'dropped' else 'accepted' end,
                    case
                        when status = 'redundant' then 'already in the same customer'
                        when status = 'violating' then violation_reason
                    end
                from {{ scratch.round_edges }}
                where status = 'redundant'
                   or (status = 'violating' and at_its_turn)
                   or (status = 'open' and not group_breaks_limit and (strongest_of_left or strongest_of_right))
                   or (status = 'open' and group_breaks_limit and strongest_of_left and strongest_of_right)
            {% endcall %}
            {% call statement('ed_merge_edges') %}
                {{ cdp.create_scratch_table(scratch.merge_edges) }} as
                with merging as (
                    select left_label, right_label
                    from {{ scratch.round_edges }}
                    where (status = 'open' and not group_breaks_limit and (strongest_of_left or strongest_of_right))
                       or (status = 'open' and group_breaks_limit and strongest_of_left and strongest_of_right)
                )
                select left_label as node, right_label as neighbour from merging
                union
                select right_label, left_label from merging
                union
                select left_label, left_label from merging
                union
                select right_label, right_label from merging
            {% endcall %}
            {% call statement('ed_merge_init') %}
                {{ cdp.create_scratch_table(scratch.merge_labels) }} as
                select node, min(neighbour) as label from {{ scratch.merge_edges }} group by node
            {% endcall %}
            {%- set merge_rounds = cdp.propagate_min_labels(scratch.merge_edges, scratch.merge_labels, scratch.merge_next) -%}
            {% call statement('ed_relabel') %}
                {{ cdp.create_scratch_table(scratch.labels) }} as
                select labels.record_key, coalesce(merged.label, labels.label) as label
                from {{ scratch.labels }} as labels
                left join {{ scratch.merge_labels }} as merged on merged.node = labels.label
            {% endcall %}
            {% call statement('ed_revalue') %}
                {{ cdp.create_scratch_table(scratch.component_values) }} as
                select distinct coalesce(merged.label, v.label) as label, v.identifier_type, v.identifier_value
                from {{ scratch.component_values }} as v
                left join {{ scratch.merge_labels }} as merged on merged.node = v.label
            {% endcall %}
            {%- set state.rounds = state.rounds + 1 -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error("guarded_edge_decisions: edges still undecided after " ~ max_rounds ~ " rounds; raise config max_rounds") }}
    {%- endif -%}
    {{ log("guarded_edge_decisions: " ~ group_rounds ~ " rounds for groups, " ~ state.rounds ~ " decision rounds", info=false) }}

    {% call statement('main') %}
        {{ cdp.create_table_statement(target_relation) }} as
        select
            c.left_record_key,
            c.right_record_key,
            c.edge_kind,
            c.identifier_value,
            cast(c.edge_priority as integer) as edge_priority,
            cast(c.match_probability as double) as match_probability,
            cast(c.match_weight as double) as match_weight,
            d.decision,
            d.decision_reason
        from {{ scratch.candidates }} as c
        inner join {{ scratch.decided }} as d on d.edge_rank = c.edge_rank
        order by c.edge_rank
    {% endcall %}
    {%- for relation in scratch.values() -%}
        {% do adapter.drop_relation(relation) %}
    {%- endfor -%}

    {{ run_hooks(post_hooks) }}
    {% do adapter.commit() %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
