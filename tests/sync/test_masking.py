"""Personal data and secrets never reach output, logs or stored error messages."""

from __future__ import annotations

import logging
from typing import Any

from cdp_sync.masking import (
    REDACTOR,
    RedactingFilter,
    Redactor,
    mask_email,
    mask_phone,
    mask_record,
)

from .conftest import HUBSPOT_TOKEN, Project, customers, json_lines
from .fakes.hubspot import FakeHubSpot
from .test_hubspot import hubspot_sync


def test_mask_helpers() -> None:
    assert mask_email("jane.doe@example.co.uk") == "j***@e***.uk"
    assert mask_phone("+447911123456") == "+**********56"
    r = Redactor()
    r.add_secret("tok-123456")
    keys = r.add_known([("first_name", "Jane"), ("last_name", "Doe-Smith")])
    text = "Jane Doe-Smith <jane@x.org> called +1 415 555 0100 / (415) 555-0199 with tok-123456"
    out = r.scrub(text)
    for leak in ("Jane", "Doe-Smith", "jane@x.org", "555 0100", "555-0199", "tok-123456"):
        assert leak not in out, out
    assert "J***" in out and "***" in out
    r.forget(keys)
    assert "Jane" in r.scrub("Jane")
    # dates, ids and amounts are left alone
    assert r.scrub("run 20261101T120000-ab12 at 2026-11-01 12:00:00 for C00012 ltv 1234.5") == (
        "run 20261101T120000-ab12 at 2026-11-01 12:00:00 for C00012 ltv 1234.5"
    )
    rec = mask_record({"email": "a@b.com", "FNAME": "Ann", "PHONE": "+4420794000", "country": "GB", "n": 3})
    assert rec == {
        "email": "a***@b***.com",
        "FNAME": "A***",
        "PHONE": "+********00",
        "country": "GB",
        "n": 3,
    }


def test_logging_filter_scrubs(caplog: Any) -> None:
    logger = logging.getLogger("cdp_sync.test")
    handler_filter = RedactingFilter()
    record = logger.makeRecord(
        "x", logging.WARNING, "f", 1, "sent %s to %s", ("ann@b.com", "+4420794000"), None
    )
    handler_filter.filter(record)
    assert record.getMessage() == "sent a***@b***.com to +********00"


def _leaks(text: str, rows: list[dict[str, Any]]) -> list[str]:
    found = []
    for r in rows:
        for key in ("email", "phone", "first_name", "last_name"):
            if r[key] and r[key] in text:
                found.append(f"{key}={r[key]}")
    return found


def test_no_pii_or_secret_anywhere(project: Project, hubspot: FakeHubSpot) -> None:
    rows = customers(12)
    rows[7]["email"] = "mangled-address"
    project.set_audience(rows, "aud_cart_abandoners")
    # the vendor echoes names and emails in its errors
    hubspot.reject_emails = {rows[1]["email"], rows[2]["email"]}
    hubspot.reject_template = "Contact {firstname} {lastname} <{email}> (tel {phone}) rejected"
    msg = f"upstream down for {rows[0]['email']} / {rows[0]['first_name']} {rows[0]['last_name']}"
    hubspot.inject("status", times=2, code=503, message=msg)
    project.write_syncs(hubspot_sync(hubspot, destination={"batch_size": 12}, failure_threshold=1.0))
    outputs = []
    proc = project.sh("-v", "plan")
    outputs += [proc.stdout, proc.stderr]
    proc = project.sh("-v", "run")  # real process: real logging to stderr
    assert proc.returncode == 0, proc.stderr
    assert "retry 1/3" in proc.stderr  # the 503s were logged...
    assert "upstream down for" in proc.stderr  # ...with the vendor's message, masked
    outputs += [proc.stdout, proc.stderr]
    for args in (["--json", "run"], ["status"], ["--json", "status"], ["history", "hs"]):
        res = project.cli(*args)
        outputs += [res.stdout, res.stderr]
    run_id = project.runs("hs")[0]["run_id"]
    res = project.cli("--json", "history", "hs", "--run", run_id)
    rows_out = json_lines(res.stdout)[0]["rows"]
    assert {r["status"] for r in rows_out} == {"success", "failed"}
    outputs += [res.stdout]
    # a fatal error whose vendor message carries personal data
    hubspot.inject("status", times=10, code=503, message=msg)
    rows[0]["lifetime_value"] = 1.0
    project.set_audience(rows, "aud_cart_abandoners")
    res = project.cli("run")
    assert res.exit_code == 6
    outputs += [res.stdout, res.stderr]
    stored = [r["error_message"] or "" for r in project.results("hs")]
    stored += [r["error_message"] or "" for r in project.runs("hs")]
    assert any("rejected" in s for s in stored) and any("INVALID_EMAIL" in s for s in stored)
    everything = "\n".join(outputs + stored)
    assert _leaks(everything, rows) == []
    assert HUBSPOT_TOKEN not in everything
    # and the wrong token a vendor echoes back is masked too
    project.write_syncs(hubspot_sync(hubspot))
    res = project.sh("run", env={"CDP_HUBSPOT_TOKEN": "pat-na1-leaky-token-0000"})
    assert res.returncode == 5 and "credentials not found or invalid" in res.stderr
    assert "leaky-token" not in res.stdout + res.stderr
    assert REDACTOR.scrub(HUBSPOT_TOKEN) == "***"
