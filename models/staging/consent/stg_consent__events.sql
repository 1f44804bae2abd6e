{{ config(
    materialized='incremental',
    unique_key='consent_id',
    incremental_strategy='delete+insert',
    tmp_relation_type='transient' if target.type == 'snowflake' else none,
    post_hook="{{ cdp.delete_erased_records('consent_events') }}"
) }}

{#- Incremental (the newest delivery of a key wins): an incremental run
    restages only the consent events with newly landed rows, ranking all deliveries
    of each such key (see the macro staging_batch). Every column depends on
    the key's own rows only, so this equals a full build. -#}
with

consent_events as (

    {{ cdp.staging_batch('consent_events') }}

),

final as (

    select
        ----------  ids
        consent_id,
        'consent_events:' || consent_id as record_key,
        email,
        is_email_invalid,
        app_user_id,

        ----------  statement
        purpose,
        is_granted,
        consent_source,

        ----------  timestamps
        recorded_at,
        _loaded_at

    from consent_events
    where {{ cdp.is_staged('consent_events') }}

)

select * from final
