{#- UTC timestamp (without time zone) from text in the formats loaders emit:
    ISO-8601 with `Z` or an offset (converted to UTC), ISO without offset (read
    as UTC), epoch seconds or milliseconds, and common US/European layouts.
    Null when nothing parses. -#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp', 'cdp')(column)) }}
{%- endmacro %}

{% macro timestamp_formats() -%}
    {{ return(['%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y', '%d.%m.%Y %H:%M:%S', '%d.%m.%Y %H:%M',
               '%d.%m.%Y', '%Y/%m/%d %H:%M:%S', '%d/%m/%Y %H:%M:%S']) }}
{%- endmacro %}

{% macro duckdb__parse_timestamp(column) -%}
    {%- set v = "trim(cast(" ~ column ~ " as varchar))" -%}
    case
        when {{ v }} similar to '[0-9]{9,10}' then cast(to_timestamp(cast({{ v }} as bigint)) at time zone 'UTC' as timestamp)
        when {{ v }} similar to '[0-9]{12,13}' then cast(to_timestamp(cast({{ v }} as bigint) / 1000) at time zone 'UTC' as timestamp)
        else coalesce(
            cast(try_cast({{ v }} as timestamptz) at time zone 'UTC' as timestamp),
            try_strptime({{ v }}, ['{{ cdp.timestamp_formats() | join("', '") }}'])
        )
    end
{%- endmacro %}

{% macro snowflake__parse_timestamp(column) -%}
    {%- set v = "trim(to_varchar(" ~ column ~ "))" -%}
    case
        when regexp_like({{ v }}, '[0-9]{9,10}') then to_timestamp_ntz(to_number({{ v }}))
        when regexp_like({{ v }}, '[0-9]{12,13}') then to_timestamp_ntz(to_number({{ v }}), 3)
        else coalesce(
            convert_timezone('UTC', try_to_timestamp_tz({{ v }}))::timestamp_ntz,
            {%- for fmt in cdp.timestamp_formats() %}
            try_to_timestamp_ntz({{ v }}, '{{ fmt | replace('%Y', 'YYYY') | replace('%m', 'MM') | replace('%d', 'DD') | replace('%H', 'HH24') | replace('%M', 'MI') | replace('%S', 'SS') }}'){{ ',' if not loop.last }}
            {%- endfor %}
        )
    end
{%- endmacro %}
