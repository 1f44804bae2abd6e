"""Corruptions: SQL macros that render clean values the way real exports write them, and
the numpy samplers that decide, per record, which corruption applies.

Rendering happens in DuckDB (vectorised, multi-threaded); every decision is drawn in numpy
beforehand, so SQL is a pure function of its inputs and output is byte-for-byte
deterministic.
"""

from __future__ import annotations

import binascii

import duckdb
import numpy as np
import pyarrow as pa

from . import vocab


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


_COUNTRY_VARIANTS: dict[str, tuple[str, ...]] = {
    "US": ("US", "USA", "United States", "U.S.", "us", "United States of America"),
    "GB": ("GB", "UK", "United Kingdom", "gb", "Great Britain", "England"),
    "DE": ("DE", "Deutschland", "Germany", "de", "DEU", "GERMANY"),
    "FR": ("FR", "France", "fr", "FRA", "FRANCE", "france"),
    "NL": ("NL", "Netherlands", "The Netherlands", "Nederland", "nl", "Holland"),
}
_GARBAGE_TS = (
    "N/A",
    "0000-00-00 00:00:00",
    "not a date",
    "2025-13-45T25:61:00Z",
    "#VALUE!",
    "yesterday",
)
_GARBAGE_DOB = ("unknown", "00/00/0000", "n/a", "0000-00-00", "31/31/1999", "12/34/56", "-")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Phone formats per country; the sampler draws 0-8 and each country uses it modulo its
# own count. a = area/prefix block, b = subscriber block (see people.py).
_PHONE_SQL = """
CASE cc
WHEN 'US' THEN CASE fmt % 9
    WHEN 0 THEN '(' || a || ') ' || substr(b, 1, 3) || '-' || substr(b, 4)
    WHEN 1 THEN a || '-' || substr(b, 1, 3) || '-' || substr(b, 4)
    WHEN 2 THEN a || '.' || substr(b, 1, 3) || '.' || substr(b, 4)
    WHEN 3 THEN a || b
    WHEN 4 THEN '+1 ' || a || ' ' || substr(b, 1, 3) || ' ' || substr(b, 4)
    WHEN 5 THEN '+1 (' || a || ') ' || substr(b, 1, 3) || '-' || substr(b, 4)
    WHEN 6 THEN '001-' || a || '-' || substr(b, 1, 3) || '-' || substr(b, 4)
    WHEN 7 THEN '1-' || a || '-' || substr(b, 1, 3) || '-' || substr(b, 4)
    ELSE '+1' || a || b END
WHEN 'GB' THEN CASE fmt % 7
    WHEN 0 THEN '0' || a || ' ' || b
    WHEN 1 THEN '0' || a || b
    WHEN 2 THEN '+44 ' || a || ' ' || b
    WHEN 3 THEN '+44 (0)' || a || ' ' || b
    WHEN 4 THEN '0044 ' || a || ' ' || b
    WHEN 5 THEN '+44' || a || b
    ELSE '0' || a || ' ' || substr(b, 1, 3) || ' ' || substr(b, 4) END
WHEN 'DE' THEN CASE fmt % 7
    WHEN 0 THEN '0' || a || ' ' || b
    WHEN 1 THEN '0' || a || '/' || b
    WHEN 2 THEN '+49 ' || a || ' ' || b
    WHEN 3 THEN '+49 (0)' || a || ' ' || b
    WHEN 4 THEN '0049 ' || a || ' ' || b
    WHEN 5 THEN '+49' || a || b
    ELSE '0' || a || '-' || b END
WHEN 'FR' THEN CASE fmt % 7
    WHEN 0 THEN '0' || a || ' ' || cdp_pairs(b, ' ')
    WHEN 1 THEN '0' || a || b
    WHEN 2 THEN '+33 ' || a || ' ' || cdp_pairs(b, ' ')
    WHEN 3 THEN '+33 (0)' || a || ' ' || cdp_pairs(b, ' ')
    WHEN 4 THEN '0033 ' || a || ' ' || cdp_pairs(b, ' ')
    WHEN 5 THEN '0' || a || '.' || cdp_pairs(b, '.')
    ELSE '+33' || a || b END
ELSE CASE fmt % 7
    WHEN 0 THEN '0' || a || '-' || b
    WHEN 1 THEN '0' || a || ' ' || b
    WHEN 2 THEN '+31 ' || a || ' ' || b
    WHEN 3 THEN '0031 ' || a || ' ' || b
    WHEN 4 THEN '+31' || a || b
    WHEN 5 THEN '0' || a || b
    ELSE '+31 (0)' || a || ' ' || b END
END
"""


def _country_sql() -> str:
    parts = [f"WHEN '{c}' THEN list_element({sql_list(v)}, fmt + 1)" for c, v in _COUNTRY_VARIANTS.items()]
    return "CASE cc " + " ".join(parts) + " ELSE cc END"


def macros() -> list[str]:
    """DuckDB macros used by every render query. Codes are documented in docs/demo-data.md."""
    return [
        # Email local parts and company domains: ascii letters only.
        "CREATE OR REPLACE TEMP MACRO cdp_slug(s) AS "
        "regexp_replace(lower(strip_accents(replace(s, 'ß', 'ss'))), '[^a-z]', '', 'g')",
        "CREATE OR REPLACE TEMP MACRO cdp_pairs(b, sep) AS "
        "substr(b, 1, 2) || sep || substr(b, 3, 2) || sep || substr(b, 5, 2) || sep "
        "|| substr(b, 7, 2)",
        "CREATE OR REPLACE TEMP MACRO cdp_uuid(h) AS "
        "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-' "
        "|| substr(h, 17, 4) || '-' || substr(h, 21, 12)",
        "CREATE OR REPLACE TEMP MACRO cdp_offset(off) AS "
        "CASE WHEN off < 0 THEN '-' ELSE '+' END || lpad(CAST(abs(off) // 60 AS VARCHAR), 2, '0')"
        " || ':' || lpad(CAST(abs(off) % 60 AS VARCHAR), 2, '0')",
        # Timestamps, from epoch milliseconds. 0 ISO Z, 1 ISO with the local offset,
        # 2 'YYYY-MM-DD HH:MM:SS' (UTC), 3 epoch seconds, 4 ISO with milliseconds Z,
        # 9 garbage, NULL code = missing.
        "CREATE OR REPLACE TEMP MACRO cdp_ts(ms, fmt, off) AS CASE "
        "WHEN ms IS NULL OR fmt IS NULL THEN NULL "
        "WHEN fmt = 0 THEN strftime(make_timestamp(ms // 1000 * 1000000), '%Y-%m-%dT%H:%M:%SZ') "
        "WHEN fmt = 1 THEN strftime(make_timestamp((ms // 1000 + off * 60) * 1000000), "
        "'%Y-%m-%dT%H:%M:%S') || cdp_offset(off) "
        "WHEN fmt = 2 THEN strftime(make_timestamp(ms // 1000 * 1000000), '%Y-%m-%d %H:%M:%S') "
        "WHEN fmt = 3 THEN CAST(ms // 1000 AS VARCHAR) "
        "WHEN fmt = 4 THEN strftime(make_timestamp(ms * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') "
        f"ELSE list_element({sql_list(_GARBAGE_TS)}, CAST(ms % {len(_GARBAGE_TS)} AS INTEGER)"
        " + 1) END",
        "CREATE OR REPLACE TEMP MACRO cdp_loaded(ms) AS make_timestamp(ms // 1000 * 1000000)",
        # Dates of birth. 0 ISO, 1 US MM/DD/YYYY, 2 German D.M.YYYY, 3 'March 7, 1985',
        # 4 missing, 5 garbage.
        "CREATE OR REPLACE TEMP MACRO cdp_dob(y, m, d, fmt) AS CASE fmt "
        "WHEN 0 THEN printf('%04d-%02d-%02d', y, m, d) "
        "WHEN 1 THEN printf('%02d/%02d/%04d', m, d, y) "
        "WHEN 2 THEN printf('%d.%d.%04d', d, m, y) "
        f"WHEN 3 THEN list_element({sql_list(_MONTHS)}, m) || ' ' || d || ', ' || y "
        f"WHEN 5 THEN list_element({sql_list(_GARBAGE_DOB)}, (y + d) % {len(_GARBAGE_DOB)} + 1)"
        " ELSE NULL END",
        # Booleans. 0 true/false, 1 TRUE/FALSE, 2 1/0, 3 yes/no, 4 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_bool(b, fmt) AS CASE "
        "WHEN b IS NULL OR fmt = 4 THEN NULL "
        "WHEN fmt = 1 THEN CASE WHEN b THEN 'TRUE' ELSE 'FALSE' END "
        "WHEN fmt = 2 THEN CASE WHEN b THEN '1' ELSE '0' END "
        "WHEN fmt = 3 THEN CASE WHEN b THEN 'yes' ELSE 'no' END "
        "ELSE CASE WHEN b THEN 'true' ELSE 'false' END END",
        # Country spellings; fmt 0 is the ISO code, 6 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_country(cc, fmt) AS CASE WHEN fmt = 6 THEN NULL ELSE "
        + _country_sql()
        + " END",
        # One-character edit at a position after the first letter: 0 substitute, 1 delete,
        # 2 transpose, 3 double a letter (the four common typing errors).
        "CREATE OR REPLACE TEMP MACRO cdp_typo_at(s, p, c, k) AS CASE "
        "WHEN k = 0 THEN left(s, p - 1) || chr(97 + c) || substr(s, p + 1) "
        "WHEN k = 1 THEN left(s, p - 1) || substr(s, p + 1) "
        "WHEN k = 2 THEN left(s, p - 2) || substr(s, p, 1) || substr(s, p - 1, 1) "
        "|| substr(s, p + 1) "
        "ELSE left(s, p) || substr(s, p, 1) || substr(s, p + 1) END",
        "CREATE OR REPLACE TEMP MACRO cdp_typo(s, u, c, k) AS CASE "
        "WHEN s IS NULL OR length(s) < 3 THEN s "
        "ELSE cdp_typo_at(s, 2 + CAST(floor(u * (length(s) - 1)) AS INTEGER), c, k) END",
        # Emails. 0 clean, 1 UPPER, 2 Capitalised, 3 surrounding whitespace, 4 mailto:,
        # 5 trailing dot, 6 typo in local part, 7 typo in domain, 8 invalid, 9 junk, 10 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_email(e, code, u, c, k, dtypo) AS CASE "
        "WHEN e IS NULL OR code = 10 THEN NULL "
        "WHEN code = 0 THEN e "
        "WHEN code = 1 THEN upper(e) "
        "WHEN code = 2 THEN upper(left(e, 1)) || substr(split_part(e, '@', 1), 2) || '@' "
        "|| upper(left(split_part(e, '@', 2), 1)) || substr(split_part(e, '@', 2), 2) "
        "WHEN code = 3 THEN list_element(['  ', ' ', '\t'], k % 3 + 1) || e || ' ' "
        "WHEN code = 4 THEN 'mailto:' || e "
        "WHEN code = 5 THEN e || '.' "
        "WHEN code = 6 THEN cdp_typo(split_part(e, '@', 1), u, c, k) || '@' "
        "|| split_part(e, '@', 2) "
        "WHEN code = 7 THEN split_part(e, '@', 1) || '@' || coalesce(dtypo, split_part(e, '@', 2)) "
        "WHEN code = 8 THEN CASE k % 3 "
        "  WHEN 0 THEN split_part(e, '@', 1) || '@' "
        "  WHEN 1 THEN split_part(e, '@', 1) || '@' || split_part(split_part(e, '@', 2), '.', 1) "
        "  ELSE split_part(e, '@', 1) || split_part(e, '@', 2) END "
        f"ELSE list_element({sql_list(vocab.JUNK_EMAILS)}, c % {len(vocab.JUNK_EMAILS)} + 1) END",
        # Names. 0 as is, 1 UPPER, 2 lower, 3 nickname, 4 typo, 5 missing, 6 padded.
        "CREATE OR REPLACE TEMP MACRO cdp_name(s, nick, code, u, c, k) AS CASE code "
        "WHEN 0 THEN s WHEN 1 THEN upper(s) WHEN 2 THEN lower(s) "
        "WHEN 3 THEN coalesce(nick, s) WHEN 4 THEN cdp_typo(s, u, c, k) "
        "WHEN 5 THEN NULL ELSE ' ' || s || ' ' END",
        "CREATE OR REPLACE TEMP MACRO cdp_phone_fmt(cc, a, b, fmt) AS " + _PHONE_SQL,
        # Phones. mess 0 formatted, 1 formatted + extension, 2 junk placeholder, 3 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_phone(cc, a, b, fmt, mess, x) AS CASE "
        "WHEN a IS NULL OR mess = 3 THEN NULL "
        f"WHEN mess = 2 THEN list_element({sql_list(vocab.JUNK_PHONES)}, "
        f"CAST(x % {len(vocab.JUNK_PHONES)} AS INTEGER) + 1) "
        "WHEN mess = 1 THEN cdp_phone_fmt(cc, a, b, fmt) "
        "|| list_element([' ext. ', ' x', ' ext ', ' #'], CAST(x % 4 AS INTEGER) + 1) "
        "|| CAST(10 + x % 990 AS VARCHAR) "
        "ELSE cdp_phone_fmt(cc, a, b, fmt) END",
        "CREATE OR REPLACE TEMP MACRO cdp_street_raw(cc, street, no) AS CASE "
        "WHEN cc IN ('DE', 'NL') THEN street || ' ' || no ELSE no || ' ' || street END",
        # Street: 0 as is, 1 UPPER, 2 abbreviated, 3 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_street(cc, street, no, code) AS CASE "
        "WHEN code = 3 THEN NULL ELSE (CASE code "
        "  WHEN 1 THEN upper(cdp_street_raw(cc, street, no)) "
        "  WHEN 2 THEN regexp_replace(regexp_replace(regexp_replace(regexp_replace("
        "    cdp_street_raw(cc, street, no), 'Street', 'St'), 'Avenue', 'Ave.'), "
        "    'straße', 'str.'), 'Road', 'Rd') "
        "  ELSE cdp_street_raw(cc, street, no) END) END",
        # Postcodes: 0 as is, 1 lower-case / no space, 2 leading zero lost (spreadsheet),
        # 3 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_postcode(pc, code) AS CASE code "
        "WHEN 1 THEN lower(replace(pc, ' ', '')) WHEN 2 THEN ltrim(pc, '0') "
        "WHEN 3 THEN NULL ELSE pc END",
        # City: 0 as is, 1 alternate spelling (Munich/München, NYC), 2 UPPER, 3 missing.
        "CREATE OR REPLACE TEMP MACRO cdp_city(city, alt, code) AS CASE code "
        "WHEN 1 THEN alt WHEN 2 THEN upper(city) WHEN 3 THEN NULL ELSE city END",
        "CREATE OR REPLACE TEMP MACRO cdp_ip(x) AS "
        "CAST(x // 16777216 % 223 + 1 AS VARCHAR) || '.' || CAST(x // 65536 % 256 AS VARCHAR) "
        "|| '.' || CAST(x // 256 % 256 AS VARCHAR) || '.' || CAST(x % 254 + 1 AS VARCHAR)",
        "CREATE OR REPLACE TEMP MACRO cdp_money(cents) AS "
        "CAST(cents // 100 AS VARCHAR) || '.' || lpad(CAST(cents % 100 AS VARCHAR), 2, '0')",
        "CREATE OR REPLACE TEMP MACRO cdp_json_str(s) AS "
        "CASE WHEN s IS NULL THEN 'null' ELSE to_json(s)::VARCHAR END",
    ]


def install(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in macros():
        con.execute(stmt)


# ---------------------------------------------------------------- samplers

# Email corruption mixes by how the source collects emails: typed by staff (manual),
# typed by the person in a web form (form), or verified by the product (app).
EMAIL_PROFILES: dict[str, tuple[float, ...]] = {
    #          clean UPPER Cap   ws    mailto dot  typoL typoD inval junk  missing
    "manual": (0.62, 0.05, 0.06, 0.05, 0.02, 0.02, 0.03, 0.015, 0.02, 0.03, 0.065),
    "form": (0.70, 0.04, 0.07, 0.05, 0.005, 0.01, 0.03, 0.015, 0.01, 0.025, 0.045),
    "app": (0.86, 0.02, 0.05, 0.02, 0.0, 0.0, 0.01, 0.005, 0.0, 0.005, 0.03),
}
NAME_P = (0.80, 0.05, 0.04, 0.04, 0.03, 0.025, 0.015)
PHONE_FMT_P = (0.30, 0.15, 0.10, 0.10, 0.10, 0.08, 0.07, 0.05, 0.05)
TS_P = {
    # ISO Z, ISO offset, space, epoch, ISO ms, garbage
    "default": (0.72, 0.12, 0.09, 0.05, 0.015, 0.005),
    "events": (0.02, 0.03, 0.0, 0.0, 0.948, 0.002),
}
BOOL_P = (0.45, 0.15, 0.2, 0.15, 0.05)
COUNTRY_P = (0.55, 0.14, 0.12, 0.08, 0.05, 0.03, 0.03)
DOB_P = (0.25, 0.15, 0.07, 0.05, 0.45, 0.03)


def choice(rng: np.random.Generator, p: tuple[float, ...], n: int) -> np.ndarray:
    pa_ = np.asarray(p, dtype=np.float64)
    return rng.choice(len(pa_), size=n, p=pa_ / pa_.sum()).astype(np.int8)


def email_cols(rng: np.random.Generator, n: int, profile: str, prefix: str = "e") -> dict:
    return {
        f"{prefix}_code": choice(rng, EMAIL_PROFILES[profile], n),
        f"{prefix}_u": rng.random(n, dtype=np.float32),
        f"{prefix}_c": rng.integers(0, 26, n, dtype=np.int16),
        f"{prefix}_k": rng.integers(0, 4, n, dtype=np.int8),
    }


def name_cols(rng: np.random.Generator, n: int, prefix: str = "nm") -> dict:
    return {
        f"{prefix}_code": choice(rng, NAME_P, n),
        f"{prefix}_u": rng.random(n, dtype=np.float32),
        f"{prefix}_c": rng.integers(0, 26, n, dtype=np.int16),
        f"{prefix}_k": rng.integers(0, 4, n, dtype=np.int8),
    }


def phone_cols(
    rng: np.random.Generator,
    n: int,
    present: np.ndarray,
    junk: float = 0.03,
    ext: float = 0.02,
    prefix: str = "ph",
) -> dict:
    u = rng.random(n)
    mess = np.where(u < junk, 2, np.where(u < junk + ext, 1, 0)).astype(np.int8)
    mess[~present] = 3
    return {
        f"{prefix}_fmt": choice(rng, PHONE_FMT_P, n),
        f"{prefix}_mess": mess,
        f"{prefix}_x": rng.integers(0, 1_000_000, n, dtype=np.int64),
    }


def ts_fmt(rng: np.random.Generator, n: int, profile: str = "default") -> np.ndarray:
    codes = choice(rng, TS_P[profile], n)
    # Codes 0-4 render as such; 5 means garbage (macro code 9).
    return np.where(codes == 5, 9, codes).astype(np.int8)


def bools(rng: np.random.Generator, n: int) -> np.ndarray:
    return choice(rng, BOOL_P, n)


def arrow(cols: dict) -> pa.Table:
    return pa.table(cols)


def uuid_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """Random version-4 UUID strings, built on raw bytes (hashing or formatting per row in
    SQL or Python costs seconds per million)."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(binascii.hexlify(b.tobytes()), dtype=np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in (
        ((0, 8), (0, 8)),
        ((8, 12), (9, 13)),
        ((12, 16), (14, 18)),
        ((16, 20), (19, 23)),
        ((20, 32), (24, 36)),
    ):
        out[:, dst[0] : dst[1]] = hexed[:, src[0] : src[1]]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))
