"""Alertmanager webhooks (version 4): one concise page per alert group and status; resends page nobody."""

from __future__ import annotations

import copy

from bot.compliance.segments import analyze
from tests.notify.helpers import (
    ALICE_PHONE,
    BOB_PHONE,
    CAROL_PHONE,
    CONFIG,
    add_people,
    api,
    auth,
    page_message,
    texts_to,
)
from tests.support.bridge import CHANNEL, LINE


def alert(instance: str, fingerprint: str, status: str = "firing") -> dict:
    return {
        "status": status,
        "labels": {"alertname": "HighLatency", "service": "api", "env": "prod", "instance": instance},
        "annotations": {"summary": f"p99 latency above 2s on {instance}"},
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2024-05-01T10:30:00Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=latency",
        "fingerprint": fingerprint,
    }


def payload(status: str = "firing", alerts: list | None = None, receiver: str = "team-api") -> dict:
    alerts = alerts or [alert("api-1", "a1b2", status), alert("api-2", "c3d4", status)]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency", service="api"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": "HighLatency", "service": "api", "env": "prod"},
        "commonLabels": {"alertname": "HighLatency", "service": "api", "env": "prod"},
        "commonAnnotations": {
            "summary": "p99 latency above 2s for the api service in every zone of the cluster, "
            "customers see timeouts at checkout and login; check the database pool"
        },
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }


async def test_firing_resent_resolved(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    status, first, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=payload(), headers=auth())
    assert status == 200 and first["recipients"] == 2 and first["duplicate"] is False
    page = first["id"]
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    sms = texts_to(twilio, ALICE_PHONE)[0]
    assert sms.startswith(f"Page {page}: [FIRING:2] HighLatency api (prod) - p99 latency above 2s")
    assert sms.endswith(f"...\nReply ACK {page}") and analyze(sms).segments == 1

    status, resent, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=payload(), headers=auth())
    assert status == 200 and resent["id"] == page and resent["duplicate"] is True
    # An alert joining the group while its page is open pages nobody again, acknowledged or not.
    await twilio.send_inbound(bridge.url, from_=ALICE_PHONE, to=LINE, body=f"ACK {page}")
    await twilio.wait_for(lambda: len(texts_to(twilio, ALICE_PHONE)) == 2)
    grown = payload(alerts=[alert("api-1", "a1b2"), alert("api-2", "c3d4"), alert("api-3", "e5f6")])
    status, third, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=grown, headers=auth())
    assert status == 200 and third["id"] == page and third["duplicate"] is True

    resolved = payload("resolved")
    status, done, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=resolved, headers=auth())
    assert status == 200 and done["id"] == page and not done["duplicate"] and done["recipients"] == 2
    status, again, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=resolved, headers=auth())
    assert again["duplicate"] is True
    await twilio.wait_for(lambda: len(twilio.sent) == 5)
    # One "Resolved" text to each person paged for it.
    assert texts_to(twilio, ALICE_PHONE)[2].startswith(f"Resolved: page {page}: [RESOLVED:2] HighLatency api (prod)")
    assert len(texts_to(twilio, BOB_PHONE)) == 2 and texts_to(twilio, BOB_PHONE)[1].startswith("Resolved: page")
    state = (await api(bridge, "GET", f"/api/v1/notifications/{page}", headers=auth()))[1]
    assert state["status"] == "resolved" and state["escalates_at"] is None and state["resolved"]["by"] == "alertmanager"
    await slack.wait_for(lambda: "Resolved by Alertmanager" in page_message(slack, CHANNEL, page)["text"])
    assert "http://alertmanager.example:9093" in page_message(slack, CHANNEL, page)["text"]
    # The group firing again after it resolved (a new start time) is a new page.
    again_firing = payload()
    for item in again_firing["alerts"]:
        item["startsAt"] = "2024-05-01T12:00:00Z"
    status, fresh, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=again_firing, headers=auth())
    assert status == 200 and fresh["id"] != page and fresh["duplicate"] is False


async def test_resolved_group_that_never_paged_changes_nothing(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    status, body, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=payload("resolved"), headers=auth())
    assert status == 200 and body == {"id": None, "recipients": 0, "duplicate": True}
    assert twilio.sent == []


async def test_routing_by_receiver_label_and_bad_payloads(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    status, body, _ = await api(
        bridge, "POST", "/api/v1/alertmanager", json=payload(receiver="team-db"), headers=auth()
    )
    assert status == 200 and body["recipients"] == 1
    by_label = payload(receiver="other", alerts=[alert("pay-1", "ff01")])
    by_label["groupKey"] = "payments-group"
    by_label["groupLabels"]["service"] = "payments"
    status, body, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=by_label, headers=auth())
    assert status == 200 and body["recipients"] == 1
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert len(texts_to(twilio, CAROL_PHONE)) == 2

    for change, expected in (
        (("version", "3"), "unsupported payload version '3'"),
        (("status", "pending"), "'status' must be firing or resolved"),
        (("alerts", []), "'alerts' is empty"),
        (("groupKey", None), "'groupKey' must be a string"),
    ):
        bad = copy.deepcopy(payload())
        bad[change[0]] = change[1]
        status, body, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=bad, headers=auth())
        assert status == 400 and expected in body["error"], body
    broken = payload()
    del broken["alerts"][0]["labels"]
    status, body, _ = await api(bridge, "POST", "/api/v1/alertmanager", json=broken, headers=auth())
    assert status == 400 and "alerts[0].labels" in body["error"]
    assert len(twilio.sent) == 2
