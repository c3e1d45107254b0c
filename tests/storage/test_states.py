"""The states rows move through: the transitions table, and the models that store only its values."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import StatementError

from storage.models import Base, Line, Message
from storage.models.base import State
from storage.models.campaigns import Campaign, CampaignEvent, CampaignRecipient
from storage.models.core import Conversation, SlackOutbox
from storage.models.notify import Notification, NotificationRecipient
from storage.states import (
    CAMPAIGN_FLOW,
    MESSAGE_FLOW,
    OUTBOX_FLOW,
    PAGE_FLOW,
    PAGE_RECIPIENT_FLOW,
    CampaignState,
    ConversationStatus,
    IllegalTransition,
    MessageStatus,
    OutboxStatus,
    PageRecipientState,
    PageStatus,
    RecipientStatus,
)

# Every column that holds a state, and the enum of its values.
STATE_COLUMNS = {
    (Message, "status"): MessageStatus,
    (Campaign, "state"): CampaignState,
    (CampaignEvent, "from_state"): CampaignState,
    (CampaignEvent, "to_state"): CampaignState,
    (CampaignRecipient, "status"): RecipientStatus,
    (SlackOutbox, "status"): OutboxStatus,
    (Conversation, "status"): ConversationStatus,
    (Notification, "status"): PageStatus,
    (NotificationRecipient, "state"): PageRecipientState,
}


def test_a_delivered_message_never_goes_back():
    for earlier in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.ACCEPTED, MessageStatus.SENT):
        assert not MESSAGE_FLOW.allows(MessageStatus.DELIVERED, earlier)
    assert MESSAGE_FLOW.allows(MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)  # a late failure receipt


def test_a_message_is_sent_only_from_sending():
    sources = {state for state in MessageStatus if MESSAGE_FLOW.allows(state, MessageStatus.SENDING)}
    assert sources == {MessageStatus.QUEUED}
    # Only a claimed message reaches the carrier; queued, held or cancelled ones never become sent directly.
    for state in (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.CANCELLED, MessageStatus.BLOCKED):
        assert not MESSAGE_FLOW.allows(state, MessageStatus.SENT)


def test_finished_messages_stay_finished():
    assert MESSAGE_FLOW.terminal() == {
        MessageStatus.RECEIVED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.BLOCKED,
        MessageStatus.CANCELLED,
    }


def test_a_cancelled_campaign_never_resumes():
    assert not any(CAMPAIGN_FLOW.allows(CampaignState.CANCELLED, state) for state in CampaignState)
    assert CAMPAIGN_FLOW.terminal() == {CampaignState.COMPLETED, CampaignState.CANCELLED}


def test_a_campaign_runs_only_once_approved():
    sources = {state for state in CampaignState if CAMPAIGN_FLOW.allows(state, CampaignState.RUNNING)}
    assert sources == {CampaignState.SCHEDULED, CampaignState.PAUSED}
    assert not CAMPAIGN_FLOW.allows(CampaignState.DRAFT, CampaignState.SCHEDULED)
    assert not CAMPAIGN_FLOW.allows(CampaignState.PAUSED, CampaignState.COMPLETED)
    # Every state but the final ones may be cancelled.
    for state in set(CampaignState) - CAMPAIGN_FLOW.terminal():
        assert CAMPAIGN_FLOW.allows(state, CampaignState.CANCELLED)


def test_outbox_rows_and_pages_settle_once():
    assert OUTBOX_FLOW.terminal() == {OutboxStatus.DONE, OutboxStatus.FAILED}
    assert not OUTBOX_FLOW.allows(OutboxStatus.DONE, OutboxStatus.PENDING)
    assert PAGE_FLOW.terminal() == {PageStatus.RESOLVED}
    assert PAGE_FLOW.allows(PageStatus.ACKED, PageStatus.RESOLVED)  # an acknowledged page is resolved later
    assert not PAGE_FLOW.allows(PageStatus.ACKED, PageStatus.OPEN)
    assert not PAGE_RECIPIENT_FLOW.allows(PageRecipientState.DELIVERED, PageRecipientState.SENT)
    assert not any(PAGE_RECIPIENT_FLOW.allows(PageRecipientState.NO_PHONE, state) for state in PageRecipientState)


def test_check_names_the_move_it_refuses():
    assert MESSAGE_FLOW.check(None, "queued") is MessageStatus.QUEUED  # a new row starts anywhere
    assert MESSAGE_FLOW.check("sent", "sent") is MessageStatus.SENT  # staying put is no move
    with pytest.raises(IllegalTransition, match="MessageStatus: delivered -> sent"):
        MESSAGE_FLOW.check("delivered", "sent")
    with pytest.raises(ValueError, match="'shipped' is not a MessageStatus"):
        MESSAGE_FLOW.check(None, "shipped")


def test_conditional_updates_are_built_from_the_table():
    assert str(MESSAGE_FLOW.where(Message.status, MessageStatus.QUEUED, MessageStatus.SENDING)) == (
        "messages.status = :status_1"
    )
    with pytest.raises(IllegalTransition):
        MESSAGE_FLOW.where(Message.status, (MessageStatus.QUEUED, MessageStatus.SENT), MessageStatus.CANCELLED)


def test_every_state_column_stores_members_of_its_enum():
    found = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, State)
    }
    assert found == {(model.__tablename__, name) for model, name in STATE_COLUMNS}
    for (model, name), enum in STATE_COLUMNS.items():
        column = model.__table__.c[name]
        assert column.type.flow.states is enum, (model, name)
        if column.default is not None:
            assert column.default.arg in set(enum), (model, name)


async def _line(session) -> Line:
    line = Line(key="+14155550100", channel="C0SUPPORT")
    session.add(line)
    await session.flush()
    return line


def _message(line: Line, status: str) -> Message:
    return Message(line_id=line.id, direction="out", phone="+14155550126", status=status, origin="system")


async def test_a_value_outside_the_enum_is_never_written(database):
    async with database.session() as session:
        message = _message(await _line(session), "queued")
        session.add(message)
        await session.flush()
        with pytest.raises(StatementError, match="'shipped' is not a MessageStatus"):
            await session.execute(update(Message).where(Message.id == message.id).values(status="shipped"))


async def test_a_model_refuses_a_move_its_flow_does_not_allow(database):
    async with database.session() as session:
        message = _message(await _line(session), "queued")
        session.add(message)
        await session.flush()
        message_id = message.id
        message.status = "sending"
        message.status = "sent"
        message.status = "delivered"
        with pytest.raises(IllegalTransition, match="delivered -> sent"):
            message.status = "sent"
    async with database.session() as session:
        stored = await session.get(Message, message_id)
        assert stored.status is MessageStatus.DELIVERED  # read back as the enum member
