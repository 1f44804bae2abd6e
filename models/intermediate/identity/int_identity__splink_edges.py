"""Probabilistic links between person records, scored by Splink (Fellegi-Sunter), incrementally.

The trained model is a JSON file in the repo (reviewed like code); it is loaded
for every build so results are deterministic. Training runs only when the var
`cdp_splink_train` is true or no model file exists.

Scoring is split in two so that a run only compares what changed and still gives
exactly the scores of a full rebuild (docs/identity.md, "Incremental identity"):

1. comparison vectors: the gamma level of every comparison for every blocked pair.
   They depend on the two records only, so they are kept in the state table
   `<this>__pairs` and computed again only for pairs touching a new or changed
   record (`<this>__records` holds a hash of each record's compared columns);
2. match weights: Splink's own SQL (predict from comparison vectors) over *all*
   stored pairs, with the m/u of the model and term frequencies of the current
   data. Term frequencies depend on every record, so old pairs are re-weighted on
   every run: cheap SQL, no string comparisons.

A full rebuild (`--full-refresh`, var `cdp_identity_full_rebuild`, retraining, or
a model whose blocking rules or comparisons changed) recomputes every vector.
Scratch work runs in an in-memory database attached for the duration.
"""

import hashlib
import json
import logging
import os

import duckdb
import pyarrow as pa

OUTPUT_SCHEMA = pa.schema(
    [
        ("left_record_key", pa.string()),
        ("right_record_key", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
        ("comparison_levels", pa.string()),
    ]
)

VECTORS = "__splink__df_comparison_vectors"
# the scored edges, in DuckDB's temp catalog until dbt-duckdb has written the model
RESULT_TABLE = "int_identity__splink_edges__result"

# m and u of the swapped-names level of last_name: equal, so its Bayes factor is 1
SWAP_IN_LAST_NAME = 1.4577301974641325e-06

COMPARED_COLUMNS = [
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "postal_code",
    "city",
]


def _duckdb_connection(session):
    """dbt-duckdb hands Python models a cursor wrapper; Splink needs the raw connection."""
    connection = session
    while not isinstance(connection, duckdb.DuckDBPyConnection):
        connection = connection._cursor
    return connection


def _settings():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression, SettingsCreator, block_on

    # Comparison levels use Splink's column_l/column_r form; blocking rules use l./r.
    swapped = "first_name_l = last_name_r and last_name_l = first_name_r"
    first_name = cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name", term_frequency_adjustments=True),
            cll.CustomLevel(swapped, label_for_charts="First and last name swapped"),
            cll.CustomLevel(
                "first_name_canonical_l = first_name_canonical_r",
                label_for_charts="Same name after nicknames (Bob = Robert)",
            ),
            cll.JaroWinklerLevel("first_name", 0.92),
            cll.JaroWinklerLevel("first_name", 0.80),
            cll.ElseLevel(),
        ],
    )
    last_name = cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel("last_name"),
            cll.ExactMatchLevel("last_name", term_frequency_adjustments=True),
            # A swap is one observation about two names: first_name weighs it, so here it weighs
            # nothing (m = u, fixed through training). Weighed twice it made +25 bits from the names
            # alone: at 1M people 3.7M blocked pairs had swapped names (Thomas James / James Thomas),
            # 16k of them one person, and most passed the threshold with no other evidence.
            cll.CustomLevel(swapped, label_for_charts="First and last name swapped").configure(
                m_probability=SWAP_IN_LAST_NAME,
                u_probability=SWAP_IN_LAST_NAME,
                fix_m_probability=True,
                fix_u_probability=True,
            ),
            cll.JaroWinklerLevel("last_name", 0.92),
            cll.JaroWinklerLevel("last_name", 0.80),
            cll.ElseLevel(),
        ],
    )
    # Exact address and exact local part only. The Jaro-Winkler levels on the address and on the
    # local part scored usernames made of the name ("jenniferm@icloud.com" / "jenniferm@gmail.com"),
    # which counts the names twice: at 1M people dropping them removed ~1.2M false links, ~2k true.
    email = ColumnExpression("email")
    email_comparison = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel(email, valid_string_pattern=None),
            cll.ExactMatchLevel(email).configure(tf_adjustment_column="email"),
            cll.ExactMatchLevel(email.regex_extract("^[^@]+")).configure(
                label_for_charts="Exact match on username"
            ),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        probability_two_random_records_match=1 / 2000,
        blocking_rules_to_generate_predictions=[
            # Every rule pairs a name with a second, rarer field: (first name, last name) or
            # (first name, city) alone make blocks of thousands at 1M people ("james smith")
            # and 466M pairs, most of them strangers with a common name. See docs/identity.md.
            block_on("last_name", "postal_code"),
            block_on("first_name_canonical", "postal_code"),
            block_on("first_name_canonical", "last_name", "city"),
            block_on("last_name", "date_of_birth"),
            block_on("first_name_canonical", "date_of_birth"),
            block_on("email_local_part"),
            "l.first_name = r.last_name and l.last_name = r.first_name",
        ],
        comparisons=[
            first_name,
            last_name,
            cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
            email_comparison,
            cl.ExactMatch("phone"),
            cl.ExactMatch("postal_code").configure(term_frequency_adjustments=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        # mw_* (per-comparison match weights) explain each score in the edges model
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def _train(linker, model_path, max_pairs):
    from splink import block_on

    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=42)
    # Each EM pass fixes some columns by blocking on them and learns the others. On small
    # data a pass can meet a level that never occurs among matches; that pass is skipped
    # (its levels keep the previous estimates) rather than failing the build.
    trained_passes = 0
    for rule in (block_on("email"), block_on("last_name", "postal_code"), block_on("date_of_birth")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            trained_passes += 1
        except ValueError as error:
            logging.getLogger(__name__).warning("EM pass skipped (%s): %s", rule, error)
    if trained_passes == 0:
        raise RuntimeError("Splink training failed on every EM pass: too little data to train on")
    linker.misc.save_model_to_json(model_path, overwrite=True)


def model(dbt, session):
    dbt.config(materialized="table")
    threshold = float(dbt.config.get("match_probability_threshold"))
    model_path = dbt.config.get("splink_model_path")
    train = _flag(dbt.config.get("splink_train"))
    full_rebuild = train or _flag(dbt.config.get("full_rebuild"))
    max_pairs = float(dbt.config.get("splink_training_max_pairs"))

    logging.getLogger("splink").setLevel(logging.WARNING)

    records_sql = dbt.ref("int_identity__splink_input").sql_query()
    state = f'"{dbt.this.database}"."{dbt.this.schema}"."{dbt.this.identifier}'
    connection = _duckdb_connection(session)
    return _score(connection, records_sql, state, model_path, train, full_rebuild, max_pairs, threshold)


def _flag(value: object) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def _fingerprint(settings: dict) -> str:
    """What the stored comparison vectors depend on: blocking rules and comparison levels."""
    keys = ("blocking_rules_to_generate_predictions", "comparisons", "unique_id_column_name", "link_type")
    relevant = {k: settings.get(k) for k in keys}
    for comparison in relevant["comparisons"] or []:
        for level in comparison.get("comparison_levels", []):
            for trained in ("m_probability", "u_probability", "tf_adjustment_weight", "tf_minimum_u_value"):
                level.pop(trained, None)
    return hashlib.md5(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _score(connection, records_sql, state, model_path, train, full_rebuild, max_pairs, threshold):
    from splink import DuckDBAPI, Linker
    from splink.internals.comparison_vector_values import compute_comparison_vector_values_from_id_pairs_sqls
    from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

    pairs_table, records_table, meta_table = f'{state}__pairs"', f'{state}__records"', f'{state}__model"'
    previous_database = connection.sql("select current_database()").fetchall()[0][0]
    connection.execute("attach if not exists ':memory:' as splink_scratch")
    connection.execute("use splink_scratch")
    try:
        record_columns = [
            c for c in connection.sql(f"select * from ({records_sql}) limit 0").columns if c != "record_key"
        ]
        hashed = ", ".join(f"cast({c} as varchar)" for c in record_columns)
        connection.execute(
            "create or replace table records as select *,"
            f" md5(cast(list_value({hashed}) as varchar)) as record_hash from ({records_sql})"
        )
        (record_count,) = connection.sql("select count(*) from records").fetchall()[0]
        if record_count < 2 and not os.path.exists(model_path):
            return OUTPUT_SCHEMA.empty_table()  # nothing to train on, nothing to score
        if record_count >= 2 and (train or not os.path.exists(model_path)):
            db_api = DuckDBAPI(connection)
            _train(Linker(db_api.register(connection.table("records")), _settings()), model_path, max_pairs)
        with open(model_path, encoding="utf-8") as f:
            model_json = json.load(f)
        fingerprint = _fingerprint(json.loads(json.dumps(model_json)))
        settings = Linker(
            DuckDBAPI(connection).register(connection.table("records")), model_path
        )._settings_obj

        stored = _state_exists(connection, pairs_table, records_table, meta_table)
        if stored and not full_rebuild:
            (stored_fingerprint,) = connection.sql(f"select fingerprint from {meta_table}").fetchall()[0]
            full_rebuild = stored_fingerprint != fingerprint
        full_rebuild = full_rebuild or not stored

        # which records need their pairs compared again: all of them, or the new and changed ones
        if full_rebuild:
            connection.execute("create or replace table dirty as select record_key from records")
        else:
            connection.execute(
                f"""
                create or replace table dirty as
                select record_key from records
                except select record_key from records
                    semi join {records_table} as s using (record_key, record_hash)
                union
                select record_key from {records_table} anti join records using (record_key)
                """
            )
        tf_columns = sorted(c.unquote().name for c in settings._term_frequency_columns)
        _blocked_pairs(connection, model_json, full_rebuild)
        _term_frequencies(connection, tf_columns)
        sqls = compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            settings._columns_to_select_for_comparison_vector_values,
            input_tablename_l="__splink__df_concat_with_tf",
            input_tablename_r="__splink__df_concat_with_tf",
            source_dataset_input_column=settings.column_info_settings.source_dataset_input_column,
            unique_id_input_column=settings.column_info_settings.unique_id_input_column,
        )
        gammas = [c for c in connection.sql(_cte_chain(sqls) + " limit 0").columns if c.startswith("gamma_")]
        new_vectors = (
            "select record_key_l, record_key_r, match_key, "
            + ", ".join(gammas)
            + " from ("
            + _cte_chain(sqls)
            + ")"
        )

        # the state tables are named with their database, so they land in the warehouse
        if full_rebuild:
            connection.execute(f"create or replace table {pairs_table} as {new_vectors}")
            connection.execute(
                f"create or replace table {records_table} as select record_key, record_hash from records"
            )
        else:
            connection.execute(
                f"""delete from {pairs_table}
                    where record_key_l in (select record_key from dirty)
                       or record_key_r in (select record_key from dirty)"""
            )
            connection.execute(f"insert into {pairs_table} {new_vectors}")
            connection.execute(
                f"delete from {records_table} where record_key in (select record_key from dirty)"
            )
            connection.execute(
                f"""insert into {records_table}
                    select record_key, record_hash from records
                    semi join dirty using (record_key)"""
            )
        # what the last run did (a test and the bench read it)
        connection.execute(
            f"""create or replace table {meta_table} as
                select '{fingerprint}' as fingerprint,
                       '{"full" if full_rebuild else "incremental"}' as last_run_mode,
                       (select count(*) from dirty) as compared_records,
                       (select count(*) from __splink__blocked_id_pairs) as compared_pairs,
                       (select count(*) from {pairs_table}) as stored_pairs"""
        )

        # every stored pair, weighted with the current term frequencies (Splink's own SQL)
        tf_select = ", ".join(f"l.tf_{c} as tf_{c}_l, r.tf_{c} as tf_{c}_r" for c in tf_columns)
        vectors = (
            f"select p.*{', ' + tf_select if tf_select else ''} from {pairs_table} as p"
            " inner join __splink__df_concat_with_tf as l on l.record_key = p.record_key_l"
            " inner join __splink__df_concat_with_tf as r on r.record_key = p.record_key_r"
        )
        predict = predict_from_comparison_vectors_sqls_using_settings(settings, threshold)
        levels = " || ',' || ".join(
            f"'{c}=' || coalesce(cast(round(mw_{c}, 2) as varchar), '')" for c in COMPARED_COLUMNS
        )
        # A temp table, returned as a relation, not an Arrow table: the scored edges (millions of
        # rows at 1M records) stay in DuckDB, within its memory limit, instead of a copy in Python
        # that dbt-duckdb copies again (about 0.6 GB of the process peak at 1M).
        connection.execute(
            f"""
            create or replace temp table {RESULT_TABLE} as
            select
                cast(least(record_key_l, record_key_r) as varchar) as left_record_key,
                cast(greatest(record_key_l, record_key_r) as varchar) as right_record_key,
                cast(match_probability as double) as match_probability,
                cast(match_weight as double) as match_weight,
                cast({levels} as varchar) as comparison_levels
            from ({_cte_chain([{"sql": vectors, "output_table_name": VECTORS}, *predict])})
            """
        )
    finally:
        connection.execute(f'use "{previous_database}"')
        connection.execute("detach splink_scratch")
    return connection.table(f"temp.main.{RESULT_TABLE}")


def _state_exists(connection, *tables: str) -> bool:
    for table in tables:
        try:
            connection.sql(f"select 1 from {table} limit 0").fetchall()
        except duckdb.CatalogException:
            return False
    return True


def _cte_chain(sqls: list[dict[str, str]]) -> str:
    ctes = ",\n".join(f"{s['output_table_name']} as ({s['sql']})" for s in sqls)
    return f"with {ctes} select * from {sqls[-1]['output_table_name']}"


def _blocked_pairs(connection, model_json: dict, full_rebuild: bool) -> None:
    """`__splink__blocked_id_pairs` (join_key_l < join_key_r, match_key = first rule that finds the
    pair, as Splink numbers them) for the pairs that touch a dirty record. Every rule is symmetric
    (equalities between l and r), so a pair is found from either end and its orientation is fixed
    by the keys: the same pair gets the same vector in a full and an incremental run."""
    rules = [
        r["blocking_rule"] if isinstance(r, dict) else r
        for r in model_json["blocking_rules_to_generate_predictions"]
    ]
    if full_rebuild:
        scope = "l.record_key < r.record_key"
    else:
        # l is dirty; r is clean, or dirty with a larger key (each dirty-dirty pair once)
        scope = (
            "l.record_key in (select record_key from dirty)"
            " and (r.record_key not in (select record_key from dirty) or l.record_key < r.record_key)"
        )
    found = " union all ".join(
        f"select l.record_key as key_a, r.record_key as key_b, {i} as rule_index"
        f" from records as l inner join records as r on ({rule}) where {scope}"
        for i, rule in enumerate(rules)
    )
    connection.execute(
        f"""
        create or replace table __splink__blocked_id_pairs as
        select cast(min(rule_index) as varchar) as match_key,
               least(key_a, key_b) as join_key_l, greatest(key_a, key_b) as join_key_r
        from ({found})
        group by least(key_a, key_b), greatest(key_a, key_b)
        """
    )


def _term_frequencies(connection, tf_columns: list[str]) -> None:
    """`__splink__df_concat_with_tf`: the records with Splink's term frequency of each value
    (share of the non-null values of the column, over all current records)."""
    joins, selects = [], []
    for c in tf_columns:
        connection.execute(
            f"""create or replace table tf_{c} as
                select {c}, cast(count(*) as double) / (select count({c}) from records) as tf_{c}
                from records where {c} is not null group by {c}"""
        )
        joins.append(f"left join tf_{c} on records.{c} = tf_{c}.{c}")
        selects.append(f"tf_{c}.tf_{c}")
    connection.execute(
        f"""create or replace table __splink__df_concat_with_tf as
            select records.*{", " + ", ".join(selects) if selects else ""} from records {" ".join(joins)}"""
    )
