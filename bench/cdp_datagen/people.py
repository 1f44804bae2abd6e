"""True persons: who each person really is and which systems they appear in.

Everything here is the clean truth. Sources render it with mess; the ground truth maps
every rendered record back to `person_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from . import vocab
from .config import CHUNK_PEOPLE, DAY, GenConfig

# Emails without a numeric suffix ("jane.doe@gmail.com") can collide between namesakes.
# They are only handed out inside the first chunk, where collisions are checked; everyone
# after it gets a per-person numeric suffix, so emails stay unique at any scale without
# global state.
BARE_EMAIL_LIMIT = CHUNK_PEOPLE

_US_AREAS: dict[str, tuple[str, ...]] = {
    "New York": ("212", "646", "917", "718"),
    "Los Angeles": ("213", "310", "323", "424"),
    "Chicago": ("312", "773", "872"),
    "Houston": ("713", "281", "832"),
    "San Francisco": ("415", "628"),
    "Seattle": ("206",),
    "Boston": ("617", "857"),
    "Austin": ("512", "737"),
    "Denver": ("303", "720"),
    "Atlanta": ("404", "470", "678"),
    "Miami": ("305", "786"),
    "Philadelphia": ("215", "267"),
    "Phoenix": ("602", "480"),
    "San Diego": ("619", "858"),
    "Portland": ("503", "971"),
    "Minneapolis": ("612",),
    "Dallas": ("214", "469", "972"),
    "Newark": ("973", "862"),
}
_DE_CITY_AREAS: dict[str, str] = {
    "Berlin": "30",
    "Hamburg": "40",
    "München": "89",
    "Köln": "221",
    "Frankfurt am Main": "69",
    "Stuttgart": "711",
    "Düsseldorf": "211",
    "Leipzig": "341",
    "Dresden": "351",
}
_DE_MOBILE = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177")


def _zipf(n: int, s: float = 0.9, shift: float = 3.0) -> np.ndarray:
    w = 1.0 / (np.arange(n) + shift) ** s
    return w / w.sum()


@dataclass(frozen=True)
class Vocab:
    """Flattened vocabularies, so a person's name or city is one integer into one array."""

    first: pa.Array
    first_nick: pa.Array
    first_groups: dict[tuple[int, int], np.ndarray]  # (country, gender) -> vocab indexes
    last: pa.Array
    last_groups: dict[int, np.ndarray]
    city: pa.Array
    city_alt: pa.Array
    city_lo: np.ndarray
    city_hi: np.ndarray
    city_groups: dict[int, np.ndarray]
    street: pa.Array
    street_groups: dict[int, np.ndarray]
    domain: pa.Array
    domain_typo: pa.Array
    domain_groups: dict[int, tuple[np.ndarray, np.ndarray]]
    company: pa.Array
    area_codes: dict[int, pa.Array]  # city index -> phone area codes (US by city)
    catalog: dict[str, np.ndarray] = field(default_factory=vocab.catalog)


def build_vocab() -> Vocab:
    first, nick, fgroups = [], [], {}
    last, lgroups = [], {}
    city, city_alt, lo, hi, cgroups = [], [], [], [], {}
    street, sgroups = [], {}
    dom, dom_typo, dgroups = [], [], {}
    areas: dict[int, pa.Array] = {}
    for ci, c in enumerate(vocab.COUNTRIES):
        for gi, names in enumerate((vocab.FIRST_MALE[c], vocab.FIRST_FEMALE[c])):
            fgroups[(ci, gi)] = np.arange(len(first), len(first) + len(names))
            first += names
            nick += [vocab.NICKNAMES.get(n) for n in names]
        lgroups[ci] = np.arange(len(last), len(last) + len(vocab.LAST[c]))
        last += vocab.LAST[c]
        start = len(city)
        for name, alt, a, b in vocab.CITIES[c]:
            if c == "US":
                areas[len(city)] = pa.array(_US_AREAS[name])
            city.append(name)
            city_alt.append(alt)
            lo.append(a)
            hi.append(b)
        cgroups[ci] = np.arange(start, len(city))
        sgroups[ci] = np.arange(len(street), len(street) + len(vocab.STREETS[c]))
        street += vocab.STREETS[c]
        names_p = vocab.EMAIL_DOMAINS[c]
        idx = np.arange(len(dom), len(dom) + len(names_p))
        p = np.array([w for _, w in names_p])
        dgroups[ci] = (idx, p / p.sum())
        dom += [d for d, _ in names_p]
        dom_typo += [vocab.DOMAIN_TYPOS.get(d, d) for d, _ in names_p]
    return Vocab(
        first=pa.array(first),
        first_nick=pa.array(nick, type=pa.string()),
        first_groups=fgroups,
        last=pa.array(last),
        last_groups=lgroups,
        city=pa.array(city),
        city_alt=pa.array(city_alt),
        city_lo=np.array(lo),
        city_hi=np.array(hi),
        city_groups=cgroups,
        street=pa.array(street),
        street_groups=sgroups,
        domain=pa.array(dom),
        domain_typo=pa.array(dom_typo),
        domain_groups=dgroups,
        company=pa.array(vocab.COMPANIES),
        area_codes=areas,
    )


@dataclass
class People:
    """One chunk of true persons. Arrays are indexed by position in the chunk."""

    n: int
    pidx: np.ndarray  # global person index
    country: np.ndarray  # index into vocab.COUNTRIES
    fav_cat: np.ndarray
    start: np.ndarray  # epoch seconds: first activity
    end: np.ndarray  # epoch seconds: last activity
    order_cap: np.ndarray  # no orders after this (audience stories need "no purchase since")
    web: np.ndarray
    app: np.ndarray
    n_app: np.ndarray
    shop: np.ndarray  # registered shop customer
    guest: np.ndarray  # places guest orders (customer_id null)
    crm: np.ndarray
    n_crm: np.ndarray
    newsletter: np.ndarray
    support: np.ndarray
    consent: np.ndarray
    deletion: np.ndarray
    vip: np.ndarray
    abandon: np.ndarray
    intent: np.ndarray
    has_phone: np.ndarray
    has_company: np.ndarray
    offset_min: np.ndarray  # typical UTC offset of the person's local exports
    table: pa.Table  # string attributes, one row per person (see _PEOPLE_SQL)


_PEOPLE_SQL = """
SELECT
    pidx,
    'P-' || lpad(CAST(pidx + 1 AS VARCHAR), {width}, '0') AS person_id,
    country_code,
    first_name,
    last_name,
    nick,
    CASE WHEN bare THEN email_local ELSE email_local || CAST(token AS VARCHAR) END
        || '@' || domain AS email,
    domain_typo,
    CASE WHEN company IS NULL THEN NULL
         WHEN bare THEN work_local ELSE work_local || CAST(token AS VARCHAR) END
        || '@' || company_domain AS work_email,
    company,
    phone_a,
    phone_b,
    street,
    house_no,
    city,
    city_alt,
    postcode,
    dob_y, dob_m, dob_d
FROM (
    SELECT *,
        cdp_slug(first_name) AS f, cdp_slug(last_name) AS l,
        CASE email_pattern
            WHEN 0 THEN cdp_slug(first_name) || '.' || cdp_slug(last_name)
            WHEN 1 THEN cdp_slug(first_name) || cdp_slug(last_name)
            WHEN 2 THEN left(cdp_slug(first_name), 1) || cdp_slug(last_name)
            WHEN 3 THEN cdp_slug(first_name) || '_' || cdp_slug(last_name)
            WHEN 4 THEN cdp_slug(first_name) || left(cdp_slug(last_name), 1)
            WHEN 5 THEN cdp_slug(last_name) || '.' || cdp_slug(first_name)
            ELSE cdp_slug(first_name)
        END AS email_local,
        cdp_slug(first_name) || '.' || cdp_slug(last_name) AS work_local,
        cdp_slug(company_base) || '.' || CASE country_code
            WHEN 'US' THEN 'com' WHEN 'GB' THEN 'co.uk' ELSE lower(country_code) END
            AS company_domain
    FROM codes
)
"""


def _perm(x: np.ndarray, space: int, salt: int) -> np.ndarray:
    """A bijection on [0, space): distinct inputs give distinct, scattered outputs."""
    # Knuth's multiplicative-hash prime: larger than every space, hence coprime with it,
    # and far from any power of ten, so neighbouring inputs land far apart.
    a = 2_654_435_761
    return (x.astype(np.int64) * a + salt) % space


def make_people(
    con: duckdb.DuckDBPyConnection,
    cfg: GenConfig,
    voc: Vocab,
    rng: np.random.Generator,
    lo: int,
    hi: int,
    country_rank_base: np.ndarray,
) -> People:
    """Draw persons [lo, hi). `country_rank_base` counts persons per country in earlier
    chunks; phone numbers are a bijection of the per-country rank, hence never shared."""
    n = hi - lo
    pidx = np.arange(lo, hi, dtype=np.int64)
    country = rng.choice(len(vocab.COUNTRIES), size=n, p=vocab.COUNTRY_P)
    gender = rng.integers(0, 2, size=n)
    first_i = np.zeros(n, dtype=np.int64)
    last_i = np.zeros(n, dtype=np.int64)
    city_i = np.zeros(n, dtype=np.int64)
    street_i = np.zeros(n, dtype=np.int64)
    dom_i = np.zeros(n, dtype=np.int64)
    for ci in range(len(vocab.COUNTRIES)):
        m = country == ci
        for gi in (0, 1):
            mg = m & (gender == gi)
            g = voc.first_groups[(ci, gi)]
            first_i[mg] = rng.choice(g, size=int(mg.sum()), p=_zipf(len(g)))
        g = voc.last_groups[ci]
        first_k = int(m.sum())
        last_i[m] = rng.choice(g, size=first_k, p=_zipf(len(g), 0.8, 4.0))
        g = voc.city_groups[ci]
        city_i[m] = rng.choice(g, size=first_k, p=_zipf(len(g), 1.0, 1.5))
        g = voc.street_groups[ci]
        street_i[m] = rng.choice(g, size=first_k)
        g, p = voc.domain_groups[ci]
        dom_i[m] = rng.choice(g, size=first_k, p=p)

    # Postcodes: numeric ranges per city (GB and NL get letters added in SQL).
    pc_num = voc.city_lo[city_i] + (rng.random(n) * (voc.city_hi[city_i] - voc.city_lo[city_i] + 1)).astype(
        np.int64
    )
    gb_in = rng.integers(0, len(vocab.GB_INWARD_LETTERS), size=(n, 2))
    nl_let = rng.integers(0, len(vocab.NL_POSTCODE_LETTERS), size=(n, 2))

    # Phones: the subscriber part is a bijection of the per-country rank.
    rank = np.zeros(n, dtype=np.int64)
    for ci in range(len(vocab.COUNTRIES)):
        m = country == ci
        rank[m] = country_rank_base[ci] + np.arange(int(m.sum()))
        country_rank_base[ci] += int(m.sum())
    phone_a = np.empty(n, dtype=object)
    phone_b = np.empty(n, dtype=object)
    for ci, c in enumerate(vocab.COUNTRIES):
        m = np.flatnonzero(country == ci)
        if m.size == 0:
            continue
        if c == "US":
            x = _perm(rank[m], 8_000_000, 7 + cfg.seed)
            b = [f"{200 + v // 10000:03d}{v % 10000:04d}" for v in x.tolist()]
            a = [
                voc.area_codes[int(ct)][int(k) % len(voc.area_codes[int(ct)])].as_py()
                for ct, k in zip(city_i[m].tolist(), rng.integers(0, 4, size=m.size).tolist(), strict=True)
            ]
        elif c == "GB":
            x = _perm(rank[m], 600_000_000, 11 + cfg.seed)
            s = [f"7{4 + v // 100_000_000}{v % 100_000_000:08d}" for v in x.tolist()]
            a, b = [v[:4] for v in s], [v[4:] for v in s]
        elif c == "DE":
            mobile = rng.random(m.size) < 0.6
            # Mobiles have 8-digit, landlines 7-digit subscriber numbers; each is its own
            # bijection of the rank, and the prefixes differ, so no two people share one.
            xm = _perm(rank[m], 90_000_000, 13 + cfg.seed)
            xl = _perm(rank[m], 9_000_000, 23 + cfg.seed)
            b = [
                f"{10_000_000 + v}" if mob else f"{1_000_000 + w}"
                for v, w, mob in zip(xm.tolist(), xl.tolist(), mobile.tolist(), strict=True)
            ]
            pick = rng.integers(0, len(_DE_MOBILE), size=m.size)
            a = [
                _DE_MOBILE[int(k)] if mob else _DE_CITY_AREAS[voc.city[int(ct)].as_py()]
                for mob, k, ct in zip(mobile.tolist(), pick.tolist(), city_i[m].tolist(), strict=True)
            ]
        elif c == "FR":
            x = _perm(rank[m], 100_000_000, 17 + cfg.seed)
            lead = rng.choice(["6", "7", "1"], size=m.size, p=[0.6, 0.2, 0.2])
            a = lead.tolist()
            b = [f"{v:08d}" for v in x.tolist()]
        else:  # NL: mobile numbers, 06-xxxxxxxx
            x = _perm(rank[m], 100_000_000, 19 + cfg.seed)
            a = ["6"] * m.size
            b = [f"{v:08d}" for v in x.tolist()]
        phone_a[m] = a
        phone_b[m] = b

    # Email suffix token: a bijection of the global person index (see BARE_EMAIL_LIMIT).
    token = _perm(pidx, cfg.token_space, 4242 + cfg.seed)
    email_pattern = rng.choice(7, size=n, p=[0.34, 0.18, 0.14, 0.08, 0.08, 0.06, 0.12])
    bare = (pidx < BARE_EMAIL_LIMIT) & (rng.random(n) < 0.55) & (email_pattern != 6)

    has_company = rng.random(n) < 0.35
    company_i = rng.integers(0, len(vocab.COMPANIES), size=n)
    suffix_i = rng.integers(0, 5, size=n)
    company_base = voc.company.take(pa.array(company_i))
    company_full = [
        (
            b
            + " "
            + vocab.COMPANY_SUFFIX[vocab.COUNTRIES[c]][s % len(vocab.COMPANY_SUFFIX[vocab.COUNTRIES[c]])]
        ).strip()
        if hc
        else None
        for b, c, s, hc in zip(
            company_base.to_pylist(),
            country.tolist(),
            suffix_i.tolist(),
            has_company.tolist(),
            strict=True,
        )
    ]

    # Age 18-80, most between 25 and 55.
    age_days = ((18 + 62 * rng.beta(2.0, 3.2, size=n)) * 365.25).astype(np.int64)
    dob = np.datetime64(cfg.now_s, "s").astype("datetime64[D]") - age_days.astype("timedelta64[D]")
    dob_y = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    dob_m = dob.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dob_d = (dob - dob.astype("datetime64[M]")).astype(np.int64) + 1

    cc = np.array(vocab.COUNTRIES)[country]
    letters_gb = np.array(list(vocab.GB_INWARD_LETTERS))
    letters_nl = np.array(list(vocab.NL_POSTCODE_LETTERS))
    digit = rng.integers(0, 10, size=n)
    postcode = np.where(
        cc == "GB",
        np.array(vocab.GB_OUTWARD)[np.minimum(pc_num, len(vocab.GB_OUTWARD) - 1)]
        + " "
        + digit.astype(str)
        + letters_gb[gb_in[:, 0]]
        + letters_gb[gb_in[:, 1]],
        np.where(
            cc == "NL",
            pc_num.astype(str).astype(object) + " " + letters_nl[nl_let[:, 0]] + letters_nl[nl_let[:, 1]],
            np.where(
                cc == "US",
                np.char.zfill(pc_num.astype(str), 5),
                np.char.zfill(pc_num.astype(str), 5),
            ),
        ),
    )
    house_no = np.where(cc == "US", rng.integers(1, 9999, size=n), rng.integers(1, 180, size=n))

    codes = pa.table(
        {
            "pidx": pidx,
            "country_code": pa.array(cc.tolist()),
            "first_name": voc.first.take(pa.array(first_i)),
            "last_name": voc.last.take(pa.array(last_i)),
            "nick": voc.first_nick.take(pa.array(first_i)),
            "domain": voc.domain.take(pa.array(dom_i)),
            "domain_typo": voc.domain_typo.take(pa.array(dom_i)),
            "email_pattern": email_pattern.astype(np.int8),
            "token": token,
            "bare": bare,
            "company": pa.array(company_full, type=pa.string()),
            "company_base": company_base,
            "phone_a": pa.array(phone_a.tolist()),
            "phone_b": pa.array(phone_b.tolist()),
            "street": voc.street.take(pa.array(street_i)),
            "house_no": house_no,
            "city": voc.city.take(pa.array(city_i)),
            "city_alt": voc.city_alt.take(pa.array(city_i)),
            "postcode": pa.array(postcode.astype(str).tolist()),
            "dob_y": dob_y,
            "dob_m": dob_m,
            "dob_d": dob_d,
        }
    )
    con.register("codes", codes)
    width = max(6, len(str(cfg.people)))
    table = con.sql(_PEOPLE_SQL.format(width=width)).to_arrow_table()
    con.unregister("codes")
    table = _dedupe_bare_emails(table, bare, token)

    membership = _membership(rng, n)
    # Activity window. Lapsed persons stopped 3-13 months ago; abandoners and high-intent
    # browsers are active right now by construction.
    lapsed = (rng.random(n) < 0.30) & ~membership["abandon"] & ~membership["intent"]
    end = np.where(
        lapsed,
        cfg.now_s - (91 + rng.random(n) * 310) * DAY,
        cfg.now_s - rng.exponential(12, size=n).clip(0, 60) * DAY,
    )
    end = np.where(membership["abandon"] | membership["intent"], cfg.now_s - rng.random(n) * DAY, end)
    oldest = cfg.now_s - cfg.history_days * DAY
    start = end - (0.03 + 0.97 * rng.random(n)) * (end - oldest)
    start = np.minimum(start, end - DAY)
    order_cap = np.full(n, cfg.now_s, dtype=np.float64)
    order_cap[membership["abandon"]] = cfg.now_s - 2 * DAY
    order_cap[membership["intent"]] = cfg.now_s - 8 * DAY
    offsets = np.array(
        [
            vocab.UTC_OFFSETS[vocab.COUNTRIES[c]][k % len(vocab.UTC_OFFSETS[vocab.COUNTRIES[c]])]
            for c, k in zip(country.tolist(), rng.integers(0, 5, size=n).tolist(), strict=True)
        ],
        dtype=np.int64,
    )

    return People(
        n=n,
        pidx=pidx,
        country=country,
        fav_cat=rng.integers(0, len(vocab.CATEGORIES), size=n),
        start=start.astype(np.int64),
        end=end.astype(np.int64),
        order_cap=order_cap.astype(np.int64),
        has_phone=rng.random(n) < 0.75,
        has_company=has_company,
        offset_min=offsets,
        table=table,
        **membership,
    )


def _dedupe_bare_emails(table: pa.Table, bare: np.ndarray, token: np.ndarray) -> pa.Table:
    """Give the numeric suffix to the second and later holders of a bare email."""
    if not bare.any():
        return table
    emails = np.array(table.column("email").to_pylist(), dtype=object)
    work = np.array(table.column("work_email").to_pylist(), dtype=object)
    seen: set[str] = set()
    for i in np.flatnonzero(bare).tolist():
        for arr in (emails, work):
            e = arr[i]
            if e is None:
                continue
            if e in seen:
                local, _, dom = e.partition("@")
                arr[i] = f"{local}{int(token[i])}@{dom}"
            seen.add(arr[i])
    table = table.set_column(
        table.schema.get_field_index("email"), "email", pa.array(emails.tolist(), type=pa.string())
    )
    return table.set_column(
        table.schema.get_field_index("work_email"),
        "work_email",
        pa.array(work.tolist(), type=pa.string()),
    )


def _membership(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Which systems each person is in. Archetypes give the single-source people the brief
    asks for; the rest get correlated memberships (shoppers mostly also have an app
    account or a CRM contact)."""
    arche = rng.choice(5, size=n, p=[0.12, 0.06, 0.05, 0.04, 0.73])
    anon_only, news_only, guest_only, crm_only, general = (arche == k for k in range(5))
    u = rng.random((n, 8))
    shop = general & (u[:, 0] < 0.50)
    app = general & (u[:, 1] < np.where(shop, 0.70, 0.45))
    crm = crm_only | (general & (u[:, 2] < np.where(shop, 0.45, 0.35)))
    newsletter = news_only | (general & (u[:, 3] < 0.35))
    web = anon_only | (general & (u[:, 4] < 0.88)) | (guest_only & (u[:, 5] < 0.6))
    guest = guest_only | (general & ~shop & (u[:, 5] < 0.08))
    nothing = general & ~(shop | app | crm | newsletter | guest)
    newsletter |= nothing
    support = (shop | app) & (u[:, 6] < 0.20) | (general & (u[:, 6] < 0.02))
    # Cap at five systems (web, app, shop, crm, newsletter, support): drop support.
    six = web & app & shop & crm & newsletter & support
    support &= ~six
    consent = (app | shop | newsletter) & (u[:, 7] < 0.45)
    identified = app | shop | crm | newsletter | guest | support
    deletion = identified & (rng.random(n) < 0.015)
    vip = (shop | guest) & (rng.random(n) < 0.03)
    pick = rng.random(n)
    abandon = web & app & (pick < 0.06)
    intent = web & app & ~abandon & (pick > 0.94)
    return {
        "web": web,
        "app": app,
        "shop": shop,
        "guest": guest,
        "crm": crm,
        "newsletter": newsletter,
        "support": support,
        "consent": consent,
        "deletion": deletion,
        "vip": vip,
        "abandon": abandon,
        "intent": intent,
        "n_app": np.where(app, 1 + (rng.random(n) < 0.03), 0),
        "n_crm": np.where(crm, 1 + (rng.random(n) < 0.06), 0),
    }
