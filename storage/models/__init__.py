"""All tables. Import from here so Alembic and the app see one metadata."""

from storage.models.base import Base, utcnow
from storage.models.core import (
    ConsentEvent,
    ConsentRequest,
    Contact,
    ContactTag,
    Conversation,
    ConversationEvent,
    InboundText,
    Line,
    Media,
    Message,
    ParkedReply,
    ProcessedEvent,
    RateSlot,
    SlackOutbox,
    Snippet,
    StatusEvent,
)

__all__ = [
    "Base",
    "utcnow",
    "ConsentEvent",
    "ConsentRequest",
    "Contact",
    "ContactTag",
    "Conversation",
    "ConversationEvent",
    "InboundText",
    "Line",
    "Media",
    "Message",
    "ParkedReply",
    "ProcessedEvent",
    "RateSlot",
    "SlackOutbox",
    "Snippet",
    "StatusEvent",
]

# Domain tables register themselves on Base.metadata when imported.
from storage.models import api as _api  # noqa: E402,F401
from storage.models import campaigns as _campaigns  # noqa: E402,F401
from storage.models import notify as _notify  # noqa: E402,F401
