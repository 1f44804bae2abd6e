"""HubSpot contacts against the fake: batch limits, 207 partial failures,
whole-batch rejections split, retries up to the limit, removal, erasure, rate limits."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .conftest import HUBSPOT_TOKEN, Project, customer, customers, json_lines
from .fakes.hubspot import FakeHubSpot

MAPPING = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "phone": "phone",
    "cdp_customer_id": "customer_id",
    "cdp_lifetime_value": "lifetime_value",
}


def hubspot_sync(fake: FakeHubSpot, **over: Any) -> dict[str, Any]:
    dest = {
        "type": "hubspot",
        "base_url": fake.url,
        "rate_limit": {"requests": 50, "per_seconds": 1},
    }
    dest.update(over.pop("destination", {}))
    sync = {
        "name": "hs",
        "source": "audiences.aud_cart_abandoners",
        "mode": "mirror",
        "mapping": dict(MAPPING),
        "destination": dest,
        "failure_threshold": 0.5,
    }
    sync.update(over)
    return sync


def test_fake_enforces_the_batch_limit(hubspot: FakeHubSpot) -> None:
    inputs = [
        {
            "idProperty": "email",
            "id": f"u{i}@example.com",
            "properties": {"email": f"u{i}@example.com"},
        }
        for i in range(101)
    ]
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    url = f"{hubspot.url}/crm/v3/objects/contacts/batch/upsert"
    resp = httpx.post(url, json={"inputs": inputs}, headers=headers)
    assert resp.status_code == 400 and "limit is 100" in resp.json()["message"]
    assert httpx.post(url, json={"inputs": inputs[:100]}, headers=headers).status_code == 200
    assert httpx.post(url, json={"inputs": inputs[:1]}).status_code == 401


def test_upsert_batches_and_ids(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(230)
    project.set_audience(rows, "aud_cart_abandoners")
    project.write_syncs(hubspot_sync(hubspot))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    sizes = [len(r.json["inputs"]) for r in hubspot.calls("batch/upsert")]
    assert sizes == [100, 100, 30]
    active = hubspot.active()
    assert len(active) == 230
    assert active[rows[0]["email"]]["firstname"] == rows[0]["first_name"]
    assert active[rows[0]["email"]]["cdp_lifetime_value"] == "103.25"
    state = project.state("hs")
    assert all(s["destination_id"] for s in state.values())
    assert hubspot.rate_limited == 0
    # a batch size above HubSpot's limit is refused up front
    project.write_syncs(hubspot_sync(hubspot, destination={"batch_size": 101}))
    res = project.cli("list")
    assert res.exit_code == 3 and "batch_size" in res.stderr


def test_partial_failures_retried_up_to_limit(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(20)
    project.set_audience(rows, "aud_cart_abandoners")
    bad = {rows[3]["email"], rows[11]["email"]}
    hubspot.reject_emails = set(bad)
    project.write_syncs(hubspot_sync(hubspot, max_attempts=3, failure_threshold=1.0))
    for attempt in (1, 2, 3):
        res = project.cli("--json", "run")
        assert res.exit_code == 0, res.output
        done = json_lines(res.stdout)[-1]
        assert done["rows_failed"] == 2
        failed = [e for e in json_lines(res.stdout) if e["event"] == "row_failed"]
        assert {e["attempt"] for e in failed} == {attempt}
        assert all("example.com" not in (e["error"] or "") for e in failed)
    results = [r for r in project.results("hs") if r["status"] == "failed"]
    assert len(results) == 6 and sorted({r["attempt"] for r in results}) == [1, 2, 3]
    assert all("Property values were not valid" in r["error_message"] for r in results)
    assert all("@example.com" not in r["error_message"] for r in results)
    # given up: the plan shows them, the next run does not send them
    plan = json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"]
    assert plan["exhausted"] == 2 and plan["add"] == 0
    calls = len(hubspot.requests)
    done = json_lines(project.cli("--json", "run").stdout)[-1]
    assert done["rows_planned"] == 0 and done["rows_exhausted"] == 2
    assert len(hubspot.requests) == calls
    status = json_lines(project.cli("--json", "status").stdout)[0]["status"][0]
    assert status["state"]["exhausted"] == 2
    # a changed version is a new chance; reset --failed-only retries the rest
    rows[3]["first_name"] = "Changed"
    project.set_audience(rows, "aud_cart_abandoners")
    hubspot.reject_emails = set()
    assert json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"]["add"] == 1
    assert project.cli("reset", "hs", "--failed-only", "--yes").exit_code == 0
    done = json_lines(project.cli("--json", "run").stdout)[-1]
    assert done["rows_added"] == 2 and done["rows_failed"] == 0
    assert len(hubspot.active()) == 20


def test_whole_batch_rejection_is_split(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(16)
    rows[5]["email"] = "not-an-email"
    project.set_audience(rows, "aud_cart_abandoners")
    project.write_syncs(hubspot_sync(hubspot, destination={"batch_size": 16}))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert done["rows_added"] == 15 and done["rows_failed"] == 1
    failed = [r for r in project.results("hs") if r["status"] == "failed"]
    assert [r["primary_key"] for r in failed] == ["C00006"]
    assert "INVALID_EMAIL" in failed[0]["error_message"]
    assert "not-an-email" not in failed[0]["error_message"]  # the row's value is masked
    # 16 -> 8+8 -> 4+4 -> 2+2 -> 1+1: 1 + 2 + 2 + 2 + 2 requests
    assert len(hubspot.calls("batch/upsert")) == 9
    assert len(hubspot.active()) == 15


def test_change_by_id_removal_and_erasure(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(6)
    project.set_audience(rows, "aud_cart_abandoners")
    project.write_syncs(hubspot_sync(hubspot))
    assert project.cli("run").exit_code == 0
    ids = {pk: s["destination_id"] for pk, s in project.state("hs").items()}
    # email change: same contact updated by id, no duplicate
    rows[0]["email"] = "new.address@example.org"
    project.set_audience(rows[:5], "aud_cart_abandoners")  # C00006 leaves: archived
    project.set_erased(["C00002"])  # erased: GDPR-deleted, never re-created
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert (done["rows_changed"], done["rows_removed"], done["rows_deleted"]) == (1, 1, 1)
    assert hubspot.contacts[ids["C00001"]]["properties"]["email"] == "new.address@example.org"
    assert hubspot.contacts[ids["C00006"]]["archived"] is True
    assert ids["C00002"] in hubspot.gdpr_deleted and ids["C00002"] not in hubspot.contacts
    assert len(hubspot.contacts) == 5
    state = project.state("hs")
    assert "C00002" not in state and "C00006" not in state
    assert json_lines(project.cli("--json", "plan").stdout)[0]["plans"][0]["counts"] == {
        "add": 0,
        "change": 0,
        "remove": 0,
        "delete": 0,
        "exhausted": 0,
        "unchanged": 4,
        "erased_in_source": 1,
    }
    assert project.cli("run").exit_code == 0
    assert ids["C00002"] not in hubspot.contacts and len(hubspot.calls("gdpr-delete")) == 1


def test_insert_only_and_update_only(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(4)
    project.set_audience(rows, "aud_cart_abandoners")
    hubspot._new({"email": rows[1]["email"], "firstname": "Existing"})
    project.write_syncs(
        hubspot_sync(hubspot, name="ins", mode="insert-only"),
        hubspot_sync(hubspot, name="upd", mode="update-only"),
    )
    res = project.cli("--json", "run", "ins")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert done["rows_added"] == 3 and done["rows_skipped"] == 1
    assert hubspot.active()[rows[1]["email"]]["firstname"] == "Existing"  # never overwritten
    assert len(hubspot.active()) == 4
    rows.append(customer(9))
    project.set_audience(rows, "aud_cart_abandoners")
    done = json_lines(project.cli("--json", "run", "upd").stdout)[-1]
    assert done["rows_changed"] == 4 and done["rows_skipped"] == 1  # C00009 not in HubSpot
    assert len(hubspot.active()) == 4
    assert hubspot.active()[rows[1]["email"]]["firstname"] == rows[1]["first_name"]


def test_rate_limit_respected_and_429_recovered(project: Project, hubspot: FakeHubSpot) -> None:
    project.set_audience(customers(30), "aud_cart_abandoners")
    hubspot.rate = (3, 0.27)  # a little shorter than the client's window: clock skew
    project.write_syncs(
        hubspot_sync(
            hubspot,
            destination={"batch_size": 5, "rate_limit": {"requests": 3, "per_seconds": 0.3}},
        )
    )
    assert project.cli("run").exit_code == 0
    assert hubspot.rate_limited == 0 and len(hubspot.active()) == 30
    # a new process cannot know what the last one sent: let the fake's window close first
    time.sleep(0.3)
    # a client configured above the real limit: the Remaining header makes it pause
    project.set_audience(customers(20, start=100), "aud_cart_abandoners")
    project.write_syncs(
        hubspot_sync(
            hubspot,
            destination={"batch_size": 5, "rate_limit": {"requests": 100, "per_seconds": 1}},
            http={"concurrency": 1},
        )
    )
    assert project.cli("run").exit_code == 0
    assert hubspot.rate_limited == 0 and len(hubspot.active()) == 20
    # without that header (other apps share the limit) it gets 429s and recovers
    hubspot.hide_remaining = True
    project.set_audience(customers(20, start=200), "aud_cart_abandoners")
    project.write_syncs(
        hubspot_sync(
            hubspot,
            destination={"batch_size": 5, "rate_limit": {"requests": 100, "per_seconds": 1}},
            http={"max_retries": 8, "backoff_base": 0.01, "backoff_max": 0.05},
        )
    )
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    assert hubspot.rate_limited > 0
    assert set(hubspot.active()) == {c["email"] for c in customers(20, start=200)}


def test_auth_and_check(project: Project, hubspot: FakeHubSpot, monkeypatch) -> None:
    project.set_audience(customers(3), "aud_cart_abandoners")
    project.write_syncs(hubspot_sync(hubspot))
    res = project.cli("--json", "check")
    assert res.exit_code == 0, res.output
    assert json_lines(res.stdout)[0]["checks"][0]["destination"]["ok"]
    monkeypatch.setenv("CDP_HUBSPOT_TOKEN", "pat-wrong-token-value")
    res = project.cli("run")
    assert res.exit_code == 5 and "401" in res.stderr
    assert "pat-wrong-token-value" not in res.output
    monkeypatch.delenv("CDP_HUBSPOT_TOKEN")
    res = project.cli("check")
    assert res.exit_code == 3 and "CDP_HUBSPOT_TOKEN is not set" in res.stdout
    # the failed run is recorded, and nothing was marked synced
    runs = project.runs("hs")
    assert runs[-1]["status"] == "failed" and "401" in runs[-1]["error_message"]
    assert not any(s["synced_hash"] for s in project.state("hs").values())
