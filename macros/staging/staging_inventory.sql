{#- Every raw table with the base model that splits its rows and the staging
    model that holds its current usable records. The quarantine and the row
    accounting iterate over this list, so a new source is added here once. -#}
{% macro staging_inventory() -%}
    {{ return([
        {'source': 'crm', 'table': 'crm_contacts', 'base': 'base_crm__contacts', 'staged': 'stg_crm__contacts', 'key': 'contact_id'},
        {'source': 'shop', 'table': 'shop_customers', 'base': 'base_shop__customers', 'staged': 'stg_shop__customers', 'key': 'shop_customer_id'},
        {'source': 'shop', 'table': 'shop_orders', 'base': 'base_shop__orders', 'staged': 'stg_shop__orders', 'key': 'order_id'},
        {'source': 'app', 'table': 'app_users', 'base': 'base_app__users', 'staged': 'stg_app__users', 'key': 'app_user_id'},
        {'source': 'web', 'table': 'web_events', 'base': 'base_web__events', 'staged': 'stg_web__events', 'key': 'message_id'},
        {'source': 'newsletter', 'table': 'newsletter_signups', 'base': 'base_newsletter__signups', 'staged': 'stg_newsletter__signups', 'key': 'signup_id'},
        {'source': 'helpdesk', 'table': 'support_tickets', 'base': 'base_helpdesk__tickets', 'staged': 'stg_helpdesk__tickets', 'key': 'ticket_id'},
        {'source': 'consent', 'table': 'consent_events', 'base': 'base_consent__events', 'staged': 'stg_consent__events', 'key': 'consent_id'},
        {'source': 'privacy', 'table': 'deletion_requests', 'base': 'base_privacy__deletion_requests', 'staged': 'stg_privacy__deletion_requests', 'key': 'request_id'},
    ]) }}
{%- endmacro %}
