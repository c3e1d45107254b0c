"""Campaign tables (A2P): campaigns, recipients, audit trail, tracked links."""

from __future__ import annotations
