{{ config(
    materialized='incremental',
    unique_key='app_user_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('app_users') }}"
) }}

{#- Incremental (versioned): an incremental run restages only the app users
    with newly landed rows, ranking all versions of each such key (see the
    macro staging_batch). Every column depends on the key's own versions
    only, so this equals a full build. -#}
with

users as (

    {{ cdp.staging_batch('app_users') }}

),

final as (

    select
        ----------  ids
        app_user_id,
        'app_users:' || app_user_id as record_key,

        ----------  contact points
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,

        ----------  person
        full_name,
        first_name,
        last_name,

        ----------  product
        plan,
        is_deleted,

        ----------  timestamps
        signup_at,
        last_login_at,
        deleted_at,
        _loaded_at

    from users
    where {{ cdp.is_staged('app_users') }}

)

select * from final
