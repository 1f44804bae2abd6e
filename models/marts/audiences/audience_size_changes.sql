{#- Each audience's size in the latest build against the build before it, and
    whether the move is larger than `cdp_audience_size_change_warn` (a fraction
    of the previous size; default 0.5). The warn-level test
    `assert_audience_size_change_within_threshold` reads the flag. From an
    empty audience any growth counts as a move of 100 %. -#}
{%- set threshold = var('cdp_audience_size_change_warn', 0.5) -%}

with

history as (

    select * from {{ ref('audience_size_history') }}

),

builds as (

    select
        invocation_id,
        max(built_at) as built_at,
        row_number() over (order by max(built_at) desc nulls last, invocation_id desc) as build_rank
    from history
    group by invocation_id

),

latest as (

    select history.*
    from history
    inner join builds
        on builds.invocation_id = history.invocation_id
    where builds.build_rank = 1

),

previous as (

    select history.*
    from history
    inner join builds
        on builds.invocation_id = history.invocation_id
    where builds.build_rank = 2

),

final as (

    select
        latest.audience_name,
        latest.audience_size,
        previous.audience_size as previous_audience_size,
        latest.built_at,
        previous.built_at as previous_built_at,
        case
            when previous.audience_size is null then null
            when previous.audience_size = 0 and latest.audience_size = 0 then 0.0
            when previous.audience_size = 0 then 1.0
            else cast(abs(latest.audience_size - previous.audience_size) as double) / previous.audience_size
        end as size_change_fraction,
        cast({{ threshold }} as double) as warn_threshold,
        coalesce(
            case
                when previous.audience_size is null then false
                when previous.audience_size = 0 then latest.audience_size > 0
                else cast(abs(latest.audience_size - previous.audience_size) as double) / previous.audience_size > {{ threshold }}
            end,
            false
        ) as is_size_change_alert
    from latest
    left join previous
        on previous.audience_name = latest.audience_name

)

select * from final
