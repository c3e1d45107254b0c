"""All tables. Import from here so Alembic and the app see one metadata."""

from storage.models.base import Base, utcnow
from storage.models.core import (
    ConsentEvent,
    Contact,
    ContactTag,
    Conversation,
    Line,
    Media,
    Message,
    ProcessedEvent,
    SlackOutbox,
    StatusEvent,
)

__all__ = [
    "Base",
    "utcnow",
    "ConsentEvent",
    "Contact",
    "ContactTag",
    "Conversation",
    "Line",
    "Media",
    "Message",
    "ProcessedEvent",
    "SlackOutbox",
    "StatusEvent",
]
