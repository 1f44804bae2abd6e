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

{#- The byte length is tested before each epoch pattern: a CASE condition's
    AND evaluates the regex only for the rows the length admits (ISO text is
    longer), which saves about a fifth of the parse. -#}
{% macro duckdb__parse_timestamp(column) -%}
    {%- set v = "trim(cast(" ~ column ~ " as varchar))" -%}
    case
        when strlen({{ v }}) between 9 and 10 and {{ v }} similar to '[0-9]{9,10}' then cast(to_timestamp(cast({{ v }} as bigint)) at time zone 'UTC' as timestamp)
        when strlen({{ v }}) between 12 and 13 and {{ v }} similar to '[0-9]{12,13}' then cast(to_timestamp(cast({{ v }} as bigint) / 1000) at time zone 'UTC' as timestamp)
        else coalesce(
            cast(try_cast({{ v }} as timestamptz) at time zone 'UTC' as timestamp),
            try_strptime({{ v }}, ['{{ cdp.timestamp_formats() | join("', '") }}'])
        )
    end
{%- endmacro %}

{#- Snowflake has no try_strptime, and its automatic timestamp detection is not
    DuckDB's. Every layout is therefore matched with an explicit regular
    expression, taken apart with split_part/regexp_substr and rebuilt as a
    zero-padded 'YYYY-MM-DD HH24:MI:SS' string that one fixed-format
    try_to_timestamp_ntz validates (Feb 30 and month 13 give null, as on
    DuckDB). The grammar, and what DuckDB accepts beyond it, is in
    docs/snowflake.md. -#}
{% macro snowflake__parse_timestamp(column) -%}
    {%- set v = "trim(to_varchar(" ~ column ~ "))" -%}
    case
        when regexp_like({{ v }}, '[0-9]{9,10}') then to_timestamp_ntz(to_number({{ v }}))
        when regexp_like({{ v }}, '[0-9]{12,13}') then to_timestamp_ntz(to_number({{ v }}), 3)
        else coalesce(
            {{ cdp.snowflake_iso_timestamp(v) }},
            {{ cdp.snowflake_strptime(v, cdp.timestamp_formats()) }}
        )
    end
{%- endmacro %}

{#- ISO-8601 as DuckDB's timestamptz cast reads it: a date 'Y-M-D' (year of 1-4
    digits; '/' or ' ' may replace both '-', so '1/2/24' is 2 February of the
    year 1, as on DuckDB), then optionally one or more spaces or a 'T' and
    'H:M[:S[.fraction]]', then optionally 'Z', '+HH', '+HHMM', '+HH:MM[:SS]' or
    ' UTC'/' GMT'. Fractions are cut to microseconds; 24:00:00 is midnight of
    the next day. The parts are cut out with regexp_replace, translate and
    split_part only (no capture groups, no backslashes). -#}
{% macro snowflake_iso_timestamp(v) -%}
    {%- set date_pattern = '([0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,4}/[0-9]{1,2}/[0-9]{1,2}|[0-9]{1,4} [0-9]{1,2} [0-9]{1,2})' -%}
    {%- set pattern = date_pattern ~ '(( +|T *)[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}([.][0-9]*)?)?(Z|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2})?)?| +([Uu][Tt][Cc]|[Gg][Mm][Tt]))?)?' -%}
    {#- every part is at most three functions deep: emulators that expand each
        call (fakesnow) stay fast, and each part reads on its own -#}
    {%- set year = "regexp_replace(" ~ v ~ ", '[-/ ].*$', '')" -%}
    {%- set month = "regexp_replace(regexp_replace(" ~ v ~ ", '^[0-9]+[-/ ]', ''), '[-/ ].*$', '')" -%}
    {%- set day = "regexp_replace(regexp_replace(" ~ v ~ ", '^[0-9]+[-/ ][0-9]+[-/ ]', ''), '[^0-9].*$', '')" -%}
    {#- what follows the date: 'H:M[:S][.f][zone]', or '' without a time -#}
    {%- set rest = "regexp_replace(" ~ v ~ ", '^[0-9]+[-/ ][0-9]+[-/ ][0-9]+( +|T *)?', '')" -%}
    {%- set hour = "regexp_replace(" ~ rest ~ ", ':.*$', '')" -%}
    {%- set minute = "regexp_replace(regexp_replace(" ~ rest ~ ", '^[0-9]*:', ''), '[^0-9].*$', '')" -%}
    {%- set second = "regexp_replace(regexp_replace(" ~ rest ~ ", '^[0-9]*:[0-9]*:?', ''), '[^0-9].*$', '')" -%}
    {%- set fraction = "regexp_replace(regexp_replace(" ~ rest ~ ", '^[^.]*[.]?', ''), '[^0-9].*$', '')" -%}
    {%- set zone = "regexp_replace(" ~ rest ~ ", '^[0-9:.]*', '')" -%}
    {%- set zone_digits = "regexp_replace(" ~ zone ~ ", '[^0-9]', '')" -%}
    {%- set is_24h = "(" ~ hour ~ " = '24' and regexp_like(" ~ minute ~ " || " ~ second ~ " || " ~ fraction ~ ", '0*'))" -%}
    case when regexp_like({{ v }}, '{{ pattern }}') then
        dateadd('second',
            case when {{ zone }} like '-%' then 1 when {{ zone }} like '+%' then -1 else 0 end
                * (to_number('0' || substr({{ zone_digits }}, 1, 2)) * 3600
                   + to_number('0' || substr({{ zone_digits }}, 3, 2)) * 60
                   + to_number('0' || substr({{ zone_digits }}, 5, 2))),
            dateadd('microsecond', to_number(rpad(substr({{ fraction }}, 1, 6), 6, '0')),
                dateadd('day', case when {{ is_24h }} then 1 else 0 end,
                    try_to_timestamp_ntz(
                        lpad({{ year }}, 4, '0') || '-' || lpad({{ month }}, 2, '0') || '-' || lpad({{ day }}, 2, '0')
                        || ' ' || case when {{ is_24h }} then '00' else lpad({{ hour }}, 2, '0') end
                        || ':' || lpad({{ minute }}, 2, '0') || ':' || lpad({{ second }}, 2, '0'),
                        'YYYY-MM-DD HH24:MI:SS'))))
    end
{%- endmacro %}

{#- DuckDB's try_strptime over a list of formats (the first that parses wins),
    for Snowflake. Supported directives: %Y (1-4 digits), %m %d %H %M %S (1-2
    digits), %B (full month name) and %b (three-letter month name), any case;
    a space matches one or more whitespace characters. Directives written next
    to each other take their maximum width, as DuckDB's greedy parser does.
    The regular expression validates the layout; the fields are then read by
    position after every run of separators is turned into one space. -#}
{% macro snowflake_strptime(v, formats) -%}
    {%- set months = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] -%}
    {%- set widths = {'Y': 4, 'm': 2, 'd': 2, 'H': 2, 'M': 2, 'S': 2} -%}
    {%- set words = "regexp_replace(" ~ v ~ ", '[^0-9A-Za-z]+', ' ')" -%}
    coalesce(
    {%- for fmt in formats %}
        {#- tokens: runs of directives between literal separators -#}
        {%- set st = namespace(regex='', tokens=[[]], i=0) -%}
        {%- for _ in range(fmt | length) if st.i < fmt | length -%}
            {%- set ch = fmt[st.i] -%}
            {%- if ch == '%' -%}
                {%- set d = fmt[st.i + 1] -%}
                {%- set next_is_number = (st.i + 3 < fmt | length and fmt[st.i + 2] == '%' and fmt[st.i + 3] in widths) -%}
                {%- if d in widths -%}
                    {%- set st.regex = st.regex ~ ('[0-9]{' ~ widths[d] ~ '}' if next_is_number else '[0-9]{1,' ~ widths[d] ~ '}') -%}
                {%- elif d in ['B', 'b'] -%}
                    {%- set st.regex = st.regex ~ '[A-Za-z]+' -%}
                {%- else -%}
                    {{ exceptions.raise_compiler_error("snowflake_strptime: unsupported directive %" ~ d ~ " in " ~ fmt) }}
                {%- endif -%}
                {%- do st.tokens[-1].append(d) -%}
                {%- set st.i = st.i + 2 -%}
            {%- else -%}
                {%- if ch | trim == '' or ch in './,:-' -%}
                    {%- set st.regex = st.regex ~ ('[[:space:]]+' if ch == ' ' else '[' ~ ch ~ ']') -%}
                {%- else -%}
                    {{ exceptions.raise_compiler_error("snowflake_strptime: unsupported literal '" ~ ch ~ "' in " ~ fmt) }}
                {%- endif -%}
                {%- if st.tokens[-1] | length > 0 -%}{%- do st.tokens.append([]) -%}{%- endif -%}
                {%- set st.i = st.i + 1 -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set field = {} -%}
        {%- for token in st.tokens if token | length > 0 -%}
            {%- set word = "split_part(" ~ words ~ ", ' ', " ~ loop.index ~ ")" -%}
            {%- set pos = namespace(at=1) -%}
            {%- for d in token -%}
                {%- if loop.last -%}
                    {%- do field.update({d: "substr(" ~ word ~ ", " ~ pos.at ~ ")" if pos.at > 1 else word}) -%}
                {%- else -%}
                    {%- do field.update({d: "substr(" ~ word ~ ", " ~ pos.at ~ ", " ~ widths[d] ~ ")"}) -%}
                    {%- set pos.at = pos.at + widths[d] -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if 'B' in field or 'b' in field -%}
            {%- set month -%}
                case lower({{ field.get('B', field.get('b')) }})
                {%- for m in months %}
                    when '{{ m if 'B' in field else m[:3] }}' then '{{ loop.index }}'
                {%- endfor %}
                end
            {%- endset -%}
        {%- else -%}
            {%- set month = field.get('m') -%}
        {%- endif %}
        case when regexp_like({{ v }}, '{{ st.regex }}') then try_to_timestamp_ntz(
            lpad({{ field['Y'] }}, 4, '0') || '-' || lpad({{ month }}, 2, '0') || '-' || lpad({{ field['d'] }}, 2, '0')
            || ' ' || lpad({{ field.get('H', "'0'") }}, 2, '0') || ':' || lpad({{ field.get('M', "'0'") }}, 2, '0')
            || ':' || lpad({{ field.get('S', "'0'") }}, 2, '0'),
            'YYYY-MM-DD HH24:MI:SS') end{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}
