with

users as (

    select * from {{ ref('base_app__users') }}

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
