"""*Edit contact*: the modal, its checks, and what the card then shows."""

from __future__ import annotations

from sqlalchemy import select

from bot.contacts import service as contacts
from storage.models import Contact
from tests.inbox.helpers import CUSTOMER, card, click, open_thread


def _values(name: str, tags: str = "", notes: str = "") -> dict:
    return {
        "values": {
            "name": {"value": {"type": "plain_text_input", "value": name}},
            "tags": {"value": {"type": "plain_text_input", "value": tags}},
            "notes": {"value": {"type": "plain_text_input", "value": notes}},
        }
    }


async def _submit(bridge, slack, view: dict, state: dict) -> tuple[int, str]:
    return await slack.send_action(
        bridge.events_url,
        {"type": "view_submission", "user": {"id": "U0AGENT"}, "trigger_id": "1.2.3", "view": {**view, "state": state}},
    )


async def _contact(bridge) -> Contact | None:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(Contact).where(Contact.phone == CUSTOMER))


async def test_edit_contact_modal_saves_name_tags_and_notes_and_the_card_shows_them(bridge, slack, twilio):
    ts = await open_thread(bridge, slack, twilio)
    await click(bridge, slack, ts, "conversation_edit_contact")
    [view] = [v for v in slack.views.values() if v.get("callback_id") == "contact_edit"]

    for bad, why in (("   ", "Name cannot be empty"), ("x" * 200, "Name is 200 characters long")):
        status, body = await _submit(bridge, slack, view, _values(bad, "vip"))
        assert status == 200 and '"response_action":"errors"' in body.replace(" ", "") and why in body
        assert '"name"' in body
    assert await _contact(bridge) is None  # nothing was changed

    status, body = await _submit(bridge, slack, view, _values("Dana Scully", "vip, fbi", "Prefers texts\nafter 5pm"))
    assert status == 200 and "errors" not in body
    contact = await _contact(bridge)
    assert (contact.first_name, contact.last_name, contact.notes) == ("Dana", "Scully", "Prefers texts\nafter 5pm")
    await slack.wait_for(lambda: "Dana Scully" in card(slack, ts) and "`fbi` `vip`" in card(slack, ts))
    assert "Prefers texts after 5pm" in card(slack, ts)

    # The modal opens with what is stored; deleting a tag from the list removes it.
    await click(bridge, slack, ts, "conversation_edit_contact")
    reopened = [v for v in slack.views.values() if v.get("callback_id") == "contact_edit"][-1]
    tags_input = next(b for b in reopened["blocks"] if b.get("block_id") == "tags")["element"]
    assert tags_input["initial_value"] == "fbi, vip"
    await _submit(bridge, slack, reopened, _values("Dana Scully", "vip", ""))
    await slack.wait_for(lambda: "`vip`" in card(slack, ts) and "fbi" not in card(slack, ts))
    assert "Notes" not in card(slack, ts)


async def test_the_service_refuses_bad_fields_by_name(bridge):
    for kwargs, field in (
        ({"name": ""}, "name"),
        ({"tags": "=cmd()"}, "tags"),
        ({"tags": "x" * 65}, "tags"),
        ({"notes": "n" * 2001}, "notes"),
    ):
        try:
            await contacts.save(bridge.services, CUSTOMER, **kwargs)
        except contacts.ContactInputError as exc:
            assert exc.field == field
        else:
            raise AssertionError(f"{kwargs} was accepted")
    try:
        await contacts.save(bridge.services, "not a number", name="A")
    except contacts.ContactInputError as exc:
        assert exc.field == "phone" and "'not a number'" in str(exc)
    assert await _contact(bridge) is None
