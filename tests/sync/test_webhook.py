"""Webhook destination: HMAC signatures, per-row results, split on whole-batch
rejection, failure-rate threshold, retries through faults."""

from __future__ import annotations

import pytest
from cdp_sync.destinations.webhook import sign, verify

from .conftest import Project, customers, json_lines, webhook_sync
from .fakes.webhook import FakeWebhook


def test_signature_helpers() -> None:
    body = b'{"a":1}'
    sig = sign("s3cret", "1700000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    import time

    now = str(int(time.time()))
    assert verify("s3cret", now, body, sign("s3cret", now, body))
    assert not verify("other", now, body, sign("s3cret", now, body))
    assert not verify("s3cret", now, body + b" ", sign("s3cret", now, body))
    assert not verify("s3cret", "1700000000", body, sig)  # stale timestamp


def test_signed_batches_accepted(project: Project, webhook: FakeWebhook) -> None:
    rows = customers(25)
    project.set_audience(rows)
    project.write_syncs(webhook_sync(webhook.url))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    assert webhook.bad_signatures == 0 and len(webhook.batches) == 3
    assert all(r.headers["x-cdp-signature"].startswith("sha256=") for r in webhook.requests)
    assert set(webhook.records) == {r["customer_id"] for r in rows}
    assert webhook.records["C00001"]["email"] == rows[0]["email"]
    assert webhook.records["C00001"]["last_order_at"] == "2026-10-01T01:00:00Z"
    assert json_lines(project.cli("--json", "check").stdout)[0]["ok"]
    keys = [r.headers["idempotency-key"] for r in webhook.requests if r.json["records"]]
    assert len(set(keys)) == len(keys) == 3  # one per distinct batch


def test_wrong_secret_is_refused(project: Project, webhook: FakeWebhook, monkeypatch) -> None:
    project.set_audience(customers(3))
    project.write_syncs(webhook_sync(webhook.url))
    monkeypatch.setenv("CDP_WEBHOOK_SECRET", "not-the-right-secret")
    res = project.cli("run")
    assert res.exit_code == 5 and "invalid signature" in res.stderr
    assert "not-the-right-secret" not in res.output
    assert webhook.bad_signatures == 1 and not webhook.records
    monkeypatch.delenv("CDP_WEBHOOK_SECRET")
    res = project.cli("run")
    assert res.exit_code == 3 and "CDP_WEBHOOK_SECRET is not set" in res.stderr


def test_per_row_rejections_and_threshold(project: Project, webhook: FakeWebhook) -> None:
    project.set_audience(customers(10))
    webhook.reject_rows = {"C00002", "C00005", "C00007"}
    project.write_syncs(webhook_sync(webhook.url, failure_threshold=0.2))
    res = project.cli("--json", "run")
    assert res.exit_code == 7, res.output  # 3 of 10 failed > 20%
    events = json_lines(res.stdout)
    assert events[-1]["event"] == "error" and events[-1]["error"] == "threshold_exceeded"
    done = [e for e in events if e["event"] == "run_finished"][0]
    assert done["status"] == "failed" and done["threshold_exceeded"] and done["rows_failed"] == 3
    run = project.runs("hv_hook")[-1]
    assert run["status"] == "failed" and "more than the failure threshold" in run["error_message"]
    assert sorted(r["primary_key"] for r in project.results("hv_hook") if r["status"] == "failed") == [
        "C00002",
        "C00005",
        "C00007",
    ]
    assert len(webhook.records) == 7
    # the same failures under a looser threshold pass; the text output says so
    res = project.cli("run", "--failure-threshold", "1")
    assert res.exit_code == 0 and "3 failed" in res.stdout


def test_whole_batch_rejection_split_and_faults(project: Project, webhook: FakeWebhook) -> None:
    project.set_audience(customers(20))
    webhook.poison = {"C00013"}
    webhook.inject("status", times=2, code=503)
    webhook.inject("drop")
    webhook.inject("slow", seconds=0.8)  # past the timeout: applied, answer lost, resent
    project.write_syncs(webhook_sync(webhook.url, failure_threshold=0.1, http={"timeout": 0.5}))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert done["rows_added"] == 19 and done["rows_failed"] == 1
    failed = [r for r in project.results("hv_hook") if r["status"] == "failed"]
    assert failed[0]["primary_key"] == "C00013"
    assert "unprocessable" in failed[0]["error_message"]
    assert set(webhook.records) == {f"C{i:05d}" for i in range(1, 21)} - {"C00013"}
    # a resent batch (after 503s, the drop and the lost answer) keeps its idempotency key
    by_rows: dict[tuple[str, ...], set[str]] = {}
    for req in webhook.requests:
        ids = tuple(r["id"] for r in req.json["records"])
        by_rows.setdefault(ids, set()).add(req.headers["idempotency-key"])
    assert len(webhook.requests) > len(by_rows)  # there were resends
    assert all(len(keys) == 1 for keys in by_rows.values())


def test_destination_down_aborts_and_resumes(project: Project, webhook: FakeWebhook) -> None:
    project.set_audience(customers(30))
    project.write_syncs(webhook_sync(webhook.url, http={"concurrency": 1}))
    # the outage starts with the second batch and outlasts max_retries (3)
    webhook.on_request = lambda req: (
        webhook.inject("status", times=4, code=503) if len(webhook.requests) == 2 else None
    )
    res = project.cli("--json", "run")
    assert res.exit_code == 6, res.output
    assert json_lines(res.stdout)[-1]["error"] == "destination_unavailable"
    run = project.runs("hv_hook")[-1]
    assert run["status"] == "failed" and run["rows_added"] == 10
    webhook.on_request = None
    res = project.cli("--json", "run")
    assert res.exit_code == 0
    assert json_lines(res.stdout)[-1]["rows_added"] == 20
    assert len(webhook.records) == 30


@pytest.mark.parametrize("mode", ["insert-only", "update-only"])
def test_webhook_operation_names(project: Project, webhook: FakeWebhook, mode: str) -> None:
    project.set_audience(customers(2))
    project.write_syncs(webhook_sync(webhook.url, mode=mode))
    assert project.cli("run").exit_code == 0
    ops = {b["operation"] for b in webhook.batches}
    assert ops == {"insert" if mode == "insert-only" else "update"}
