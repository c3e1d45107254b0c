"""Team notification tables: roster, groups, notifications and their recipients, escalations."""

from __future__ import annotations
