"""What Telnyx's messaging error codes mean, and what we do about them.

From Telnyx's Messaging Error Code Reference (https://developers.telnyx.com/docs/messaging/messages/error-codes),
its API error codes (https://developers.telnyx.com/development/api-fundamentals/api-errors) and Advanced
Opt-In/Out (https://developers.telnyx.com/docs/messaging/messages/advanced-opt-in-out: sending to a number that
texted STOP is refused with 40300, "Blocked due to STOP message")."""

from __future__ import annotations

DOCS = "https://developers.telnyx.com/docs/messaging/messages/error-codes"

MEANINGS: dict[int, str] = {
    10002: "Invalid phone number",
    10009: "Authentication failed: check TELNYX_API_KEY",
    10010: "Authorization failed for this resource",
    10011: "Too many requests to Telnyx",
    10016: "The phone number must be in +E.164 format",
    40001: "Not routable: the destination is a landline or a non-routable number",
    40002: "Blocked as spam by the carrier (temporary)",
    40003: "Blocked as spam by the carrier (permanent)",
    40004: "Rejected by the destination carrier",
    40005: "The message expired before it could be delivered",
    40006: "The recipient's carrier is unavailable",
    40008: "Undeliverable: the carrier did not accept the message",
    40009: "Invalid message body",
    40011: "Too many messages from this number (rate limit)",
    40300: "The recipient has replied STOP to this sender (blocked due to STOP message)",
}

OPTED_OUT = {40300}
INVALID_NUMBER = {10002, 10016}
LANDLINE = {40001}
RETRYABLE = {10011, 40006, 40011}  # worth sending again later


def describe(code: int | None) -> str:
    """A human sentence for an error code, for Slack threads and reports."""
    if code is None:
        return "no error code given"
    return MEANINGS.get(code, f"Telnyx error {code}") + f" (Telnyx error {code}, {DOCS})"


def kind(code: int | None) -> str | None:
    """`opted_out`, `invalid` or `landline` when the code says so of the number, else None."""
    if code in OPTED_OUT:
        return "opted_out"
    if code in INVALID_NUMBER:
        return "invalid"
    if code in LANDLINE:
        return "landline"
    return None
