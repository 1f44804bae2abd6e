"""Crash safety: a `cdp-sync run` killed with SIGKILL at any point, then run
again, sends only what was not confirmed, loses nothing, and converges to the
exact audience (even when the audience changed in between)."""

from __future__ import annotations

import datetime as dt
import os
import signal
from typing import Any

import pytest

from .conftest import Project, customer, customers, json_lines, webhook_sync
from .fakes.webhook import FakeWebhook


def expected(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for r in rows:
        fields = dict(r)
        if isinstance(fields["last_order_at"], dt.datetime):
            fields["last_order_at"] = fields["last_order_at"].isoformat() + "Z"
        out[r["customer_id"]] = fields
    return out


def sync_for(webhook: FakeWebhook) -> dict[str, Any]:
    return webhook_sync(webhook.url, destination={"batch_size": 5}, http={"concurrency": 1})


@pytest.mark.parametrize(
    ("point", "delivered", "committed", "pending"),
    [
        ("after_mark:1", 0, 0, 5),  # marked in flight, nothing sent yet
        ("after_send:2", 2, 5, 5),  # batch 2 accepted by the destination, not recorded
        ("after_commit:3", 3, 15, 0),  # killed right after a commit
    ],
)
def test_killed_at_failpoint_resumes_exactly(
    project: Project, webhook: FakeWebhook, point: str, delivered: int, committed: int, pending: int
) -> None:
    rows = customers(23)
    project.set_audience(rows)
    project.write_syncs(sync_for(webhook))
    proc = project.sh("run", env={"CDP_SYNC_FAILPOINT": point})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(webhook.batches) == delivered
    state = project.state("hv_hook")
    done = {pk for pk, s in state.items() if s["synced_hash"]}
    inflight = {pk for pk, s in state.items() if s["pending_op"]}
    assert (len(done), len(inflight)) == (committed, pending)
    assert project.runs("hv_hook")[-1]["status"] == "running"
    before = len(webhook.batches)

    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    events = json_lines(res.stdout)
    assert any(e["event"] == "warning" and "interrupted" in e["message"] for e in events)
    resent = [r["id"] for b in webhook.batches[before:] for r in b["records"]]
    assert not set(resent) & done  # confirmed batches are never resent
    assert sorted(resent) == sorted(set(expected(rows)) - done)  # everything else exactly once
    assert webhook.records == {k: v for k, v in expected(rows).items()}
    assert [r["status"] for r in project.runs("hv_hook")] == ["interrupted", "success"]
    assert not any(s["pending_op"] for s in project.state("hv_hook").values())


@pytest.mark.parametrize("kill_at", [2, 5])
def test_sigkill_mid_request_and_audience_changes(
    project: Project, webhook: FakeWebhook, kill_at: int
) -> None:
    rows = customers(40)
    project.set_audience(rows)
    project.write_syncs(sync_for(webhook))
    webhook.delay = 0.05
    proc = project.sh("run", wait=False)

    def kill(req: Any) -> None:
        if len(webhook.requests) == kill_at:
            os.kill(proc.pid, signal.SIGKILL)  # while this request is being answered

    webhook.on_request = kill
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    webhook.on_request = None
    webhook.delay = 0
    state = project.state("hv_hook")
    inflight = sorted(pk for pk, s in state.items() if s["pending_op"])
    assert len(inflight) == 5  # the batch that reached the destination unconfirmed
    assert all(pk in webhook.records for pk in inflight)

    # meanwhile: two in-flight rows leave the audience, a synced row changes, one joins
    synced = sorted(pk for pk, s in state.items() if s["synced_hash"])
    gone = set(inflight[:2])
    new_rows = [r for r in rows if r["customer_id"] not in gone]
    changed = next(r for r in new_rows if r["customer_id"] == synced[0])
    changed["lifetime_value"] = 1.5
    new_rows.append(customer(77))
    project.set_audience(new_rows)
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    assert webhook.records == expected(new_rows)  # converged exactly: removed, changed, added
    summary = json_lines(res.stdout)[-1]
    assert summary["rows_removed"] == 2 and summary["rows_failed"] == 0
    assert json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"]["change"] == 0
