"""Mailchimp members and Braze profiles against their fakes."""

from __future__ import annotations

from typing import Any

from .conftest import Project, customers, json_lines
from .fakes.braze import FakeBraze
from .fakes.mailchimp import FakeMailchimp, member_hash

MC_MAPPING = {
    "email_address": "email",
    "FNAME": "first_name",
    "LNAME": "last_name",
    "consent": "email_marketing_consent",
}


def mc_sync(fake: FakeMailchimp, **over: Any) -> dict[str, Any]:
    dest = {
        "type": "mailchimp",
        "list_id": fake.list_id,
        "base_url": fake.url,
        "consent_field": "consent",
    }
    dest.update(over.pop("destination", {}))
    sync = {
        "name": "mc",
        "source": "audiences.aud_newsletter_never_purchased",
        "mode": "mirror",
        "mapping": dict(MC_MAPPING),
        "destination": dest,
        "failure_threshold": 0.5,
    }
    sync.update(over)
    return sync


def test_mailchimp_batches_consent_and_no_resubscribe(project: Project, mailchimp: FakeMailchimp) -> None:
    rows = customers(1100)
    project.set_audience(rows, "aud_newsletter_never_purchased")
    project.write_syncs(mc_sync(mailchimp))
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    batches = mailchimp.calls(f"/lists/{mailchimp.list_id}", "POST")
    assert [len(b.json["members"]) for b in batches] == [500, 500, 100]
    assert all(b.json["update_existing"] is True for b in batches)
    # never 'status', only 'status_if_new'; consent decides pending vs transactional
    assert all("status" not in m for b in batches for m in b.json["members"])
    active = mailchimp.active()
    assert len(active) == 1100
    assert active[rows[0]["email"]]["status"] == "pending"  # consent true
    assert active[rows[2]["email"]]["status"] == "transactional"  # C00003: no consent
    assert active[rows[0]["email"]]["merge_fields"]["FNAME"] == rows[0]["first_name"]
    assert project.state("mc")["C00001"]["destination_id"] == member_hash(rows[0]["email"])
    # someone unsubscribes in Mailchimp; their name changes in the warehouse
    mailchimp.set_status(rows[0]["email"], "unsubscribed")
    rows[0]["first_name"] = "Renamed"
    project.set_audience(rows, "aud_newsletter_never_purchased")
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    member = mailchimp.active()[rows[0]["email"]]
    assert member["status"] == "unsubscribed" and member["merge_fields"]["FNAME"] == "Renamed"
    assert mailchimp.resubscribe_attempts == 0


def test_mailchimp_errors_removal_erasure_and_email_change(
    project: Project, mailchimp: FakeMailchimp
) -> None:
    rows = customers(8)
    rows[4]["email"] = "broken@@example"
    project.set_audience(rows, "aud_newsletter_never_purchased")
    project.write_syncs(mc_sync(mailchimp))
    done = json_lines(project.cli("--json", "run").stdout)[-1]
    assert done["rows_added"] == 7 and done["rows_failed"] == 1
    failed = [r for r in project.results("mc") if r["status"] == "failed"]
    assert failed[0]["primary_key"] == "C00005" and "looks fake or invalid" in failed[0]["error_message"]
    assert "broken@@example" not in failed[0]["error_message"]
    old_hash = member_hash(rows[0]["email"])
    rows[0]["email"] = "moved.person@example.net"  # email change: old member archived
    project.set_audience(rows[:6], "aud_newsletter_never_purchased")  # 7, 8 leave: archived
    project.set_erased(["C00002"])  # erased: deleted permanently
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert (done["rows_changed"], done["rows_removed"], done["rows_deleted"]) == (1, 2, 1)
    assert mailchimp.members[old_hash]["archived"] is True
    assert "moved.person@example.net" in mailchimp.active()
    assert mailchimp.members[member_hash(rows[6]["email"])]["archived"] is True
    assert member_hash(rows[1]["email"]) in mailchimp.deleted
    expected = {r["email"] for r in rows[:6]} - {rows[1]["email"], rows[4]["email"]}
    assert set(mailchimp.active()) == expected
    # archiving again is idempotent (404 = already gone)
    assert project.cli("reset", "mc", "--failed-only", "--yes").exit_code == 0


def test_mailchimp_update_only_refused(project: Project, mailchimp: FakeMailchimp) -> None:
    project.write_syncs(mc_sync(mailchimp, mode="update-only"))
    res = project.cli("list")
    assert res.exit_code == 3 and "does not support update-only" in res.stderr


def test_mailchimp_insert_only_and_auth(project: Project, mailchimp: FakeMailchimp, monkeypatch) -> None:
    rows = customers(3)
    project.set_audience(rows, "aud_newsletter_never_purchased")
    project.write_syncs(mc_sync(mailchimp, mode="insert-only"))
    assert project.cli("check").exit_code == 0
    # a member created by someone else before the sync
    mailchimp._batch({"members": [{"email_address": rows[0]["email"], "status": "subscribed"}]})
    done = json_lines(project.cli("--json", "run").stdout)[-1]
    assert done["rows_added"] == 2 and done["rows_skipped"] == 1
    assert mailchimp.active()[rows[0]["email"]]["merge_fields"] == {}  # not overwritten
    monkeypatch.setenv("CDP_MAILCHIMP_API_KEY", "ffffffffffffffffffffffffffffffff-us6")
    project.set_audience(customers(2, start=40), "aud_newsletter_never_purchased")
    res = project.cli("run")
    assert res.exit_code == 5 and "API key may be invalid" in res.stderr
    assert "ffffffffffffffffffffffffffffffff" not in res.output


BZ_MAPPING = {
    "email": "email",
    "first_name": "first_name",
    "country": "country_code",
    "ltv": "lifetime_value",
}


def bz_sync(fake: FakeBraze, **over: Any) -> dict[str, Any]:
    dest = {"type": "braze", "base_url": fake.url, "audience_attribute": "cdp_lapsed"}
    dest.update(over.pop("destination", {}))
    sync = {
        "name": "bz",
        "source": "audiences.aud_lapsed_customers",
        "mode": "mirror",
        "mapping": dict(BZ_MAPPING),
        "destination": dest,
        "failure_threshold": 0.5,
    }
    sync.update(over)
    return sync


def test_braze_track_batches_errors_removal_erasure(project: Project, braze: FakeBraze) -> None:
    rows = customers(160)
    rows[10]["email"] = "nope"
    project.set_audience(rows, "aud_lapsed_customers")
    project.write_syncs(bz_sync(braze))
    done = json_lines(project.cli("--json", "run").stdout)[-1]
    assert done["rows_added"] == 159 and done["rows_failed"] == 1
    sizes = [len(r.json["attributes"]) for r in braze.calls("/users/track")]
    assert sizes == [75, 75, 10]
    failed = [r for r in project.results("bz") if r["status"] == "failed"]
    assert failed[0]["primary_key"] == "C00011" and "not a valid email" in failed[0]["error_message"]
    assert braze.users["C00001"]["cdp_lapsed"] is True and braze.users["C00001"]["ltv"] == 103.25
    # 60 leave (flag cleared), 55 erased (deleted, at most 50 ids per request)
    project.set_erased([f"C{i:05d}" for i in range(1, 56)])
    project.set_audience(rows[:100], "aud_lapsed_customers")
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    done = json_lines(res.stdout)[-1]
    assert done["rows_removed"] == 60 and done["rows_deleted"] == 54  # C00011 never synced
    assert [len(r.json["external_ids"]) for r in braze.calls("/users/delete")] == [50, 4]
    assert "C00001" not in braze.users and braze.users["C00150"]["cdp_lapsed"] is False
    assert braze.users["C00100"]["cdp_lapsed"] is True


def test_braze_update_only_and_rate_limit_headers(project: Project, braze: FakeBraze) -> None:
    braze.users["C00001"] = {"first_name": "Old"}
    project.set_audience(customers(30), "aud_lapsed_customers")
    braze.rate = (2, 0.3)  # far below what the client is told: it must follow the headers
    project.write_syncs(
        bz_sync(
            braze,
            mode="update-only",
            destination={"batch_size": 3},
            http={"max_retries": 8, "concurrency": 1},
        )
    )
    res = project.cli("--json", "run")
    assert res.exit_code == 0, res.output
    assert set(braze.users) == {"C00001"} and braze.users["C00001"]["first_name"] == "Bruno"
    calls = braze.calls("/users/track")
    assert all(a["_update_existing_only"] for r in calls for a in r.json["attributes"])
    # X-RateLimit-Remaining: 0 made the client wait for X-RateLimit-Reset: no 429 at all
    assert len(calls) == 10 and braze.rate_limited == 0
    assert calls[-1].at - calls[0].at >= 1.0
    res = project.cli("--json", "check")
    assert json_lines(res.stdout)[0]["checks"][0]["destination"]["ok"], res.output
