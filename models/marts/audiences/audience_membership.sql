{#- Who is in which audience now: one row per audience and member. Ids only.
    The snapshot `audience_membership_snapshot` turns successive builds into
    history (see audience_membership_history). The channel comes from each
    audience's YAML meta, so it is declared once (a not_null test catches an
    audience without one). -#}
{%- set audiences = ['aud_high_value_customers', 'aud_cart_abandoners', 'aud_lapsed_customers',
                     'aud_newsletter_never_purchased', 'aud_high_intent_browsers'] -%}

with

{% for audience in audiences %}
{%- set channel = none -%}
{%- if execute -%}
    {#- unit tests run without the graph: channel is then null -#}
    {%- set node = (graph.get('nodes') or {}).get('model.' ~ project_name ~ '.' ~ audience) -%}
    {%- set channel = node.config.meta.get('channel') if node else none -%}
{%- endif %}
{{ audience }} as (

    select
        '{{ audience }}' as audience_name,
        customer_id,
        {{ "'" ~ channel ~ "'" if channel else 'null' }} as channel
    from {{ ref(audience) }}

),

{% endfor %}
unioned as (

    {% for audience in audiences %}
    select * from {{ audience }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        audience_name || ':' || customer_id as membership_key,
        audience_name,
        customer_id,
        cast(channel as {{ dbt.type_string() }}) as channel
    from unioned

)

select * from final
