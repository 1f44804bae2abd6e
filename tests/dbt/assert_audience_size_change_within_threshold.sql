{#- Warns when an audience's size moved by more than
    `cdp_audience_size_change_warn` (a fraction of its size at the previous
    build) - a broken upstream feed or rule usually shows up here first. -#}
{{ config(severity='warn') }}

select
    audience_name,
    previous_audience_size,
    audience_size,
    size_change_fraction,
    warn_threshold
from {{ ref('audience_size_changes') }}
where is_size_change_alert
