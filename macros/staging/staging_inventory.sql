{#- Every raw table with the base model that splits its rows and the staging
    model that holds its current usable records. The quarantine and the row
    accounting iterate over this list, so a new source is added here once.
    `version_order` ranks the versions of one key (after usable-first): the
    incremental staging models rank with the same terms. `identifiers` are
    the base view's columns that name a person, which the erasure scope
    searches (stg_privacy__identifier_index). -#}
{% macro staging_inventory() -%}
    {{ return([
        {'source': 'crm', 'table': 'crm_contacts', 'base': 'base_crm__contacts', 'staged': 'stg_crm__contacts', 'key': 'contact_id', 'version_order': 'version_at desc, _loaded_at desc', 'identifiers': ['email', 'phone']},
        {'source': 'shop', 'table': 'shop_customers', 'base': 'base_shop__customers', 'staged': 'stg_shop__customers', 'key': 'shop_customer_id', 'version_order': 'version_at desc, _loaded_at desc', 'identifiers': ['email', 'phone', 'shop_customer_id']},
        {'source': 'shop', 'table': 'shop_orders', 'base': 'base_shop__orders', 'staged': 'stg_shop__orders', 'key': 'order_id', 'version_order': 'version_at desc, _loaded_at desc', 'identifiers': ['email', 'shop_customer_id']},
        {'source': 'app', 'table': 'app_users', 'base': 'base_app__users', 'staged': 'stg_app__users', 'key': 'app_user_id', 'version_order': '_loaded_at desc, last_login_at desc nulls last', 'identifiers': ['email', 'phone', 'app_user_id']},
        {'source': 'web', 'table': 'web_events', 'base': 'base_web__events', 'staged': 'stg_web__events', 'key': 'message_id', 'version_order': '_loaded_at asc', 'identifiers': ['traits_email', 'app_user_id', 'anonymous_id']},
        {'source': 'newsletter', 'table': 'newsletter_signups', 'base': 'base_newsletter__signups', 'staged': 'stg_newsletter__signups', 'key': 'signup_id', 'version_order': '_loaded_at desc', 'identifiers': ['email']},
        {'source': 'helpdesk', 'table': 'support_tickets', 'base': 'base_helpdesk__tickets', 'staged': 'stg_helpdesk__tickets', 'key': 'ticket_id', 'version_order': '_loaded_at desc', 'identifiers': ['email', 'phone']},
        {'source': 'consent', 'table': 'consent_events', 'base': 'base_consent__events', 'staged': 'stg_consent__events', 'key': 'consent_id', 'version_order': '_loaded_at desc', 'identifiers': ['email', 'app_user_id']},
        {'source': 'privacy', 'table': 'deletion_requests', 'base': 'base_privacy__deletion_requests', 'staged': 'stg_privacy__deletion_requests', 'key': 'request_id', 'version_order': '_loaded_at desc', 'identifiers': []},
    ]) }}
{%- endmacro %}

{#- The version order of one raw table, from the inventory. -#}
{% macro version_order(source_table) -%}
    {{ return(cdp.staging_inventory() | selectattr('table', 'equalto', source_table) | map(attribute='version_order') | first) }}
{%- endmacro %}
