"""Probabilistic links between person records, scored by Splink (Fellegi-Sunter).

The trained model is a JSON file in the repo (reviewed like code); it is loaded
for every build so results are deterministic. Training runs only when the var
`cdp_splink_train` is true or no model file exists. Splink's scratch tables go
to an in-memory database attached for the duration of the model, so the
warehouse file is left as it was.
"""

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
    from splink import SettingsCreator, block_on

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
            cll.CustomLevel(swapped, label_for_charts="First and last name swapped"),
            cll.JaroWinklerLevel("last_name", 0.92),
            cll.JaroWinklerLevel("last_name", 0.80),
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
            cl.EmailComparison("email"),
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
    train = str(dbt.config.get("splink_train")).lower() in ("true", "1", "yes")
    max_pairs = float(dbt.config.get("splink_training_max_pairs"))

    logging.getLogger("splink").setLevel(logging.WARNING)

    records = dbt.ref("int_identity__splink_input")
    connection = _duckdb_connection(session)
    record_count = connection.sql(f"select count(*) from ({records.sql_query()})").fetchall()[0][0]
    table = OUTPUT_SCHEMA.empty_table()
    if record_count >= 2:
        table = _score(connection, records.sql_query(), model_path, train, max_pairs, threshold)
    return table


def _score(connection, records_sql, model_path, train, max_pairs, threshold):
    from splink import DuckDBAPI, Linker

    previous_database = connection.sql("select current_database()").fetchall()[0][0]
    connection.execute("attach if not exists ':memory:' as splink_scratch")
    connection.execute("use splink_scratch")
    try:
        source = connection.sql(records_sql)
        db_api = DuckDBAPI(connection)
        if train or not os.path.exists(model_path):
            _train(Linker(db_api.register(source), _settings()), model_path, max_pairs)
        linker = Linker(db_api.register(source), model_path)
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        levels = " || ',' || ".join(
            f"'{c}=' || coalesce(cast(round(mw_{c}, 2) as varchar), '')" for c in COMPARED_COLUMNS
        )
        table = connection.sql(
            f"""
            select
                least(record_key_l, record_key_r) as left_record_key,
                greatest(record_key_l, record_key_r) as right_record_key,
                match_probability,
                match_weight,
                {levels} as comparison_levels
            from {predictions.physical_name}
            """
        ).to_arrow_table()
        linker.table_management.delete_tables_created_by_splink_from_db()
        return table.cast(OUTPUT_SCHEMA)
    finally:
        connection.execute(f'use "{previous_database}"')
        connection.execute("detach splink_scratch")
