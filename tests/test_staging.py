"""Staging accounts for every raw row: bad rows are quarantined with a reason, bad values are nulled
and flagged, and a staging model that loses a row fails the reconciliation test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dbt_helpers import PROJECT_DIR, built_copy, execute, query, run_dbt


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_copy(tmp_path_factory.mktemp("staging"))


def test_demo_data_is_fully_accounted_for(warehouse: Path) -> None:
    rows = query(
        warehouse, "select source_table, raw_rows, unaccounted_rows from staging.stg_audit__row_accounting"
    )
    assert len(rows) == 9
    assert all(unaccounted == 0 for _, _, unaccounted in rows), rows
    # the demo data has something in every bucket
    totals = query(
        warehouse,
        "select sum(staged_rows), sum(superseded_rows), sum(quarantined_rows), sum(erased_rows)"
        " from staging.stg_audit__row_accounting",
    )[0]
    assert all(total > 0 for total in totals), totals


def test_bad_rows_are_quarantined_and_bad_values_flagged(warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "bad.duckdb"
    shutil.copy(warehouse, database)
    # landed as a loader lands them: after everything already there (stg_shop__orders is incremental
    # on _loaded_at; a back-dated row needs a --full-refresh, see docs/staging.md)
    execute(
        database,
        """
        insert into raw.shop_orders (order_id, customer_id, email, total_price, currency, status, line_items, created_at, _loaded_at) values
            (null, null, 'a@b.com', '10', 'USD', 'paid', '[]', '2026-01-01T00:00:00Z', timestamp '2026-11-02'),
            ('O-BAD-TS', null, 'a@b.com', '10', 'USD', 'paid', '[]', 'not a date', timestamp '2026-11-02'),
            ('O-BAD-STATUS', null, 'a@b.com', '10', 'USD', 'shipped??', '[]', '2026-01-01T00:00:00Z', timestamp '2026-11-02'),
            ('O-BAD-EMAIL', null, 'not-an-email', '10', 'USD', 'paid', 'not json', '2026-01-01T00:00:00Z', timestamp '2026-11-02');
        """,
    )
    run_dbt(database, "run", "--select", "staging")
    reasons = dict(
        query(
            database,
            """select coalesce(source_record_id, '<none>'), quarantine_reason from staging.stg_audit__quarantine
               where source_table = 'shop_orders' and raw_row like '%a@b.com%'""",
        )
    )
    assert reasons == {
        "<none>": "missing order_id",
        "O-BAD-TS": "missing or unparseable created_at",
        "O-BAD-STATUS": "unknown order status",
    }
    staged = query(
        database,
        "select email, is_email_invalid, is_line_items_invalid from staging.stg_shop__orders where order_id = 'O-BAD-EMAIL'",
    )
    assert staged == [(None, True, True)]
    assert query(database, "select sum(unaccounted_rows) from staging.stg_audit__row_accounting")[0][0] == 0


def test_a_staging_model_that_drops_a_row_fails_reconciliation(warehouse: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns(
            ".venv", "warehouse", "target", "logs", ".git", "sync_output", "__pycache__"
        ),
    )
    model = project / "models/staging/crm/stg_crm__contacts.sql"
    victim = query(warehouse, "select min(contact_id) from staging.stg_crm__contacts")[0][0]
    # a plausible bug: a filter that silently loses one contact
    model.write_text(
        model.read_text().replace(
            "where {{ cdp.is_staged('crm_contacts') }}",
            f"where {{{{ cdp.is_staged('crm_contacts') }}}} and contact_id <> '{victim}'",
        )
    )
    database = tmp_path / "sabotaged.duckdb"
    shutil.copy(warehouse, database)
    # a full build: the contacts are incremental, and an incremental run restages only new rows
    run_dbt(database, "run", "--select", "staging", "--full-refresh", project_dir=project)
    output = run_dbt(
        database, "test", "--select", "stg_audit__row_accounting", project_dir=project, check=False
    )
    assert "accepted_range_stg_audit__row_accounting_unaccounted_rows" in output
    assert "FAIL 1" in output
    assert query(
        database,
        "select unaccounted_rows from staging.stg_audit__row_accounting where source_table = 'crm_contacts'",
    ) == [(1,)]
