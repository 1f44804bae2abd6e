{#- Identity-resolution settings: the defaults below, overridden key by key by
    the var `cdp_identity` in dbt_project.yml. One place, so staging (erasure),
    identity and the tests agree. -#}
{% macro identity_config() -%}
    {%- set defaults = {
        'blocklist': {
            'email': ['test@test.com', 'test@example.com', 'noreply@example.com', 'no-reply@example.com',
                      'none@none.com', 'na@na.com', 'email@email.com', 'example@example.com', 'info@example.com',
                      'user@example.com', 'asdf@asdf.com', 'a@a.com', 'x@x.com', 'unknown@unknown.com'],
            'email_local_part': ['test', 'noreply', 'no-reply', 'donotreply', 'do-not-reply', 'none', 'null',
                                 'na', 'n-a', 'unknown', 'fake', 'asdf', 'nobody', 'invalid'],
            'phone': ['+11234567890', '+15555555555', '+15551234567', '+447000000000'],
            'anonymous_id': ['00000000-0000-0000-0000-000000000000', 'undefined', 'null'],
        },
        'max_accounts_per_identifier': {'email': 8, 'phone': 8, 'anonymous_id': 5},
        'max_per_customer': {'app_user_id': 1, 'shop_customer_id': 3, 'email': 6, 'phone': 6},
        'priority': {'app_user_id': 1, 'shop_customer_id': 1, 'email': 2, 'phone': 3, 'anonymous_id': 4, 'splink': 5},
        'match_probability_threshold': var('cdp_match_probability_threshold'),
        'erasure_hops': 3,
    } -%}
    {%- set overrides = var('cdp_identity', {}) -%}
    {%- set config = {} -%}
    {%- for key, value in defaults.items() -%}
        {%- if value is mapping and overrides.get(key) is mapping -%}
            {%- set merged = {} -%}
            {%- do merged.update(value) -%}
            {%- do merged.update(overrides[key]) -%}
            {%- do config.update({key: merged}) -%}
        {%- else -%}
            {%- do config.update({key: overrides.get(key, value)}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(config) }}
{%- endmacro %}

{#- SQL condition: true when an identifier value is on the blocklist. -#}
{% macro is_blocklisted_identifier(type_column, value_column) -%}
    {%- set blocklist = cdp.identity_config()['blocklist'] -%}
    (
        ({{ type_column }} = 'email' and (
            {{ value_column }} in ('{{ blocklist['email'] | join("', '") }}')
            or split_part({{ value_column }}, '@', 1) in ('{{ blocklist['email_local_part'] | join("', '") }}')))
        {%- for t in ['phone', 'anonymous_id'] if blocklist[t] %}
        or ({{ type_column }} = '{{ t }}' and {{ value_column }} in ('{{ blocklist[t] | join("', '") }}'))
        {%- endfor %}
    )
{%- endmacro %}
