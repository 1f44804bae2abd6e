{#- Jaro-Winkler similarity in plain SQL, reproducing DuckDB's
    jaro_winkler_similarity (which Splink uses) bit for bit, so that Splink's
    comparison levels come out the same on every warehouse. Snowflake's own
    JAROWINKLER_SIMILARITY is no substitute: it returns an integer 0-100,
    ignores case and is not documented to follow the same algorithm.

    What DuckDB computes (measured on 20,000+ pairs, see tests/snowflake):
    - Jaro over the UTF-8 *bytes* of both strings (so 'é' counts as two);
      match window max(len1, len2) / 2 - 1 (integer division, at least 0);
      each byte of the left string, in order, takes the first unmatched equal
      byte of the right string inside its window; m matches, t = half the
      number of matched positions whose bytes differ (integer division);
      jaro = (m/len1 + m/len2 + (m - t)/m) / 3 in doubles, 0 when m = 0.
    - Winkler: when jaro > 0.7, jaro + p * 0.1 * (1 - jaro) with p the common
      prefix in bytes (at most 4), evaluated as one fused multiply-add (one
      rounding). An SQL double expression rounds twice and can land one ulp
      away, which flips `>= threshold` when the exact value sits on the
      threshold, so the comparison is made in exact decimal arithmetic.

    `jaro_winkler_ctes(pairs)`: common table expressions (to follow `with
    recursive ...,`) over a relation or CTE with columns left_value and
    right_value; the last, `jw_final`, holds left_value, right_value, jaro
    (double) and prefix_bytes (0-4) for every distinct pair of non-null values.
    `jaro_winkler_parts(pairs)` is the same as one query. Greedy matching needs
    order only within one byte value, so it runs as a recursive CTE over the
    occurrences of each byte (depth = the most times one byte occurs in a
    string, far below Snowflake's default MAX_RECURSIONS of 100). -#}
{% macro jaro_winkler_parts(pairs, max_bytes=1024) -%}
with recursive
{{ cdp.jaro_winkler_ctes(pairs, max_bytes) }}
select left_value, right_value, jaro, prefix_bytes from jw_final
{%- endmacro %}

{% macro jaro_winkler_ctes(pairs, max_bytes=1024) -%}
jw_input as (

    select distinct
        left_value,
        right_value,
        {{ cdp.utf8_hex('left_value') }} as left_hex,
        {{ cdp.utf8_hex('right_value') }} as right_hex
    from {{ pairs }}
    where left_value is not null and right_value is not null

),

jw_sizes as (

    select
        left_value,
        right_value,
        left_hex,
        right_hex,
        floor(length(left_hex) / 2) as left_bytes,
        floor(length(right_hex) / 2) as right_bytes,
        greatest(floor(greatest(length(left_hex), length(right_hex)) / 4) - 1, 0) as match_window
    from jw_input

),

jw_series as (

    {{ cdp.integer_series(max_bytes) }}

),

jw_left as (

    select
        s.left_value,
        s.right_value,
        substr(s.left_hex, 2 * i.n - 1, 2) as byte_value,
        i.n as position,
        row_number() over (
            partition by s.left_value, s.right_value, substr(s.left_hex, 2 * i.n - 1, 2) order by i.n
        ) as occurrence,
        s.match_window
    from jw_sizes as s
    inner join jw_series as i on i.n <= s.left_bytes

),

jw_right as (

    select
        s.left_value,
        s.right_value,
        substr(s.right_hex, 2 * i.n - 1, 2) as byte_value,
        i.n as position,
        row_number() over (
            partition by s.left_value, s.right_value, substr(s.right_hex, 2 * i.n - 1, 2) order by i.n
        ) as occurrence
    from jw_sizes as s
    inner join jw_series as i on i.n <= s.right_bytes

),

-- the occurrences of each byte on the right, plus a sentinel past the last one
jw_right_slots as (

    select left_value, right_value, byte_value, occurrence, position from jw_right
    union all
    select left_value, right_value, byte_value, count(*) + 1, 1000000000
    from jw_right
    group by left_value, right_value, byte_value

),

-- for each left byte: the first right occurrence not left of its window
jw_left_windows as (

    select
        l.left_value,
        l.right_value,
        l.byte_value,
        l.occurrence,
        l.position,
        l.position + l.match_window as window_end,
        1 + count(r.position) as first_slot
    from jw_left as l
    left join jw_right as r
        on r.left_value = l.left_value
        and r.right_value = l.right_value
        and r.byte_value = l.byte_value
        and r.position < l.position - l.match_window
    group by l.left_value, l.right_value, l.byte_value, l.occurrence, l.position, l.match_window

),

-- two pointers per byte value: a left byte takes the next right occurrence
-- (not before its window, not before the last one taken) if it lies inside
-- its window
jw_steps (left_value, right_value, byte_value, occurrence, left_position, right_position, next_slot) as (

    select
        w.left_value,
        w.right_value,
        w.byte_value,
        w.occurrence,
        w.position,
        case when r.position <= w.window_end then r.position end,
        case when r.position <= w.window_end then w.first_slot + 1 else w.first_slot end
    from jw_left_windows as w
    inner join jw_right_slots as r
        on r.left_value = w.left_value
        and r.right_value = w.right_value
        and r.byte_value = w.byte_value
        and r.occurrence = w.first_slot
    where w.occurrence = 1

    union all

    select
        w.left_value,
        w.right_value,
        w.byte_value,
        w.occurrence,
        w.position,
        case when r.position <= w.window_end then r.position end,
        case when r.position <= w.window_end then r.occurrence + 1 else r.occurrence end
    from jw_steps as s
    inner join jw_left_windows as w
        on w.left_value = s.left_value
        and w.right_value = s.right_value
        and w.byte_value = s.byte_value
        and w.occurrence = s.occurrence + 1
    inner join jw_right_slots as r
        on r.left_value = w.left_value
        and r.right_value = w.right_value
        and r.byte_value = w.byte_value
        and r.occurrence = greatest(s.next_slot, w.first_slot)

),

jw_matches as (

    select left_value, right_value, byte_value, left_position, right_position
    from jw_steps
    where right_position is not null

),

-- the k-th matched byte of the left string against the k-th of the right one
jw_transpositions as (

    select
        l.left_value,
        l.right_value,
        count(*) as matches,
        sum(case when l.byte_value <> r.byte_value then 1 else 0 end) as mismatched_positions
    from (
        select left_value, right_value, byte_value,
            row_number() over (partition by left_value, right_value order by left_position) as k
        from jw_matches
    ) as l
    inner join (
        select left_value, right_value, byte_value,
            row_number() over (partition by left_value, right_value order by right_position) as k
        from jw_matches
    ) as r
        on r.left_value = l.left_value and r.right_value = l.right_value and r.k = l.k
    group by l.left_value, l.right_value

),

jw_final as (

    select
        s.left_value,
        s.right_value,
        case
            when coalesce(t.matches, 0) = 0 then cast(0 as double)
            else (
                cast(t.matches as double) / cast(s.left_bytes as double)
                + cast(t.matches as double) / cast(s.right_bytes as double)
                + (cast(t.matches as double) - cast(floor(t.mismatched_positions / 2) as double))
                    / cast(t.matches as double)
            ) / cast(3 as double)
        end as jaro,
        case
            when least(s.left_bytes, s.right_bytes) < 1 or substr(s.left_hex, 1, 2) <> substr(s.right_hex, 1, 2) then 0
            when least(s.left_bytes, s.right_bytes) < 2 or substr(s.left_hex, 3, 2) <> substr(s.right_hex, 3, 2) then 1
            when least(s.left_bytes, s.right_bytes) < 3 or substr(s.left_hex, 5, 2) <> substr(s.right_hex, 5, 2) then 2
            when least(s.left_bytes, s.right_bytes) < 4 or substr(s.left_hex, 7, 2) <> substr(s.right_hex, 7, 2) then 3
            else 4
        end as prefix_bytes
    from jw_sizes as s
    left join jw_transpositions as t
        on t.left_value = s.left_value and t.right_value = s.right_value

)
{%- endmacro %}

{#- True when DuckDB's jaro_winkler_similarity of the pair is >= threshold,
    from the pair's `jaro` and `prefix_bytes` (see above); null when they are
    null. Exact: with s = jaro * 2^53 and d = 2^53 - s (both integers), the
    fused result rounds s/2^53 + c * d/2^53, c = p * 0.1 as a double, whose
    value times 2^109 is the integer s * 2^56 + d * K[p]. Round-to-nearest-even
    of that is >= t = T/2^53 exactly when it is >= (2T - 1) * 2^55 (+1 when T
    is odd). Only thresholds in (0.7, 1] are meaningful here. Decimal(38, 2),
    not (38, 0): fakesnow maps NUMBER(38, 0) to a 64-bit integer. -#}
{% macro jaro_winkler_at_least(jaro, prefix_bytes, threshold) -%}
    {%- set t = threshold | float -%}
    {%- if not (0.7 < t <= 1.0) -%}
        {{ exceptions.raise_compiler_error("jaro_winkler_at_least: threshold " ~ threshold ~ " is outside (0.7, 1]") }}
    {%- endif -%}
    {%- set big_t = (t * 9007199254740992) | int -%}
    {%- set bound = (2 * big_t - 1) * 36028797018963968 + (0 if big_t % 2 == 0 else 1) -%}
    {#- the double jaro * 2^53 is an integer: take it as one before the decimal
        (a double goes to a scaled decimal through a rounded multiplication) -#}
    {%- set scaled = "cast(cast(" ~ jaro ~ " * 9007199254740992 as bigint) as decimal(38, 2))" -%}
    ({{ jaro }} > cast(0.7 as double)
        and {{ scaled }} * 72057594037927936
            + (9007199254740992 - {{ scaled }})
              * case {{ prefix_bytes }}
                    when 1 then 7205759403792794
                    when 2 then 14411518807585588
                    when 3 then 21617278211378384
                    when 4 then 28823037615171176
                    else 0
                end
            >= {{ bound }})
{%- endmacro %}
