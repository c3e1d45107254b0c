"""How large the values the edges accept may be, read from the storage models' columns so that the checks at
the edge and the schema cannot drift apart. Handlers check input against these before calling a domain."""

from __future__ import annotations

from bot.validation import int_range, max_length
from storage.models import Conversation, InboundText, Message, ProcessedEvent, StatusEvent
from storage.models.notify import Notification


def _length(*columns) -> int:
    return min(length for length in map(max_length, columns) if length is not None)


# Slack ids we store: channels, users and message timestamps all go into String(32) columns.
SLACK_ID = _length(Conversation.channel, Conversation.last_agent, Message.slack_ts)
SLACK_EVENT_ID = _length(ProcessedEvent.key) - len("slack-event:")
PHONE = _length(Message.phone)
MESSAGE_SID = _length(Message.carrier_sid)
# What a text was sent to: a number, or the id of a carrier's sender pool (a messaging service).
LINE_KEY = _length(InboundText.recipient, InboundText.messaging_service)
STATUS_SID = _length(StatusEvent.carrier_sid)
STATUS = _length(StatusEvent.status)
ERROR_CODE_MAX = int_range(StatusEvent.error_code)[1]
MESSAGE_ID_MAX = int_range(Message.id)[1]  # the bridge's message id a status callback URL carries
NOTIFICATION_ID_MAX = int_range(Notification.id)[1]
NOTIFICATION_TARGET = _length(Notification.target)
