"""What Twilio's messaging error codes mean, and what we do about them."""

from __future__ import annotations

MEANINGS: dict[int, str] = {
    20003: "Authentication failed: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    20429: "Too many requests to Twilio",
    21211: "Invalid 'To' phone number",
    21408: "Permission to send to this region is not enabled",
    21610: "The recipient has replied STOP to this sender (unsubscribed)",
    21612: "The 'To' number cannot be reached from this sender",
    21614: "The 'To' number is not a valid mobile number",
    21617: "The message body exceeds 1600 characters",
    30001: "Queue overflow at the carrier",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked by the recipient's carrier or settings",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Filtered by the carrier as spam",
    30008: "Unknown error from the carrier",
    30034: "Message from an unregistered 10DLC number",
}

OPTED_OUT = {21610}
INVALID_NUMBER = {21211}
LANDLINE = {21614, 30006}


def describe(code: int | None) -> str:
    """A human sentence for an error code, for Slack threads and reports."""
    if code is None:
        return "no error code given"
    return MEANINGS.get(code, f"Twilio error {code}") + f" (error {code}, https://www.twilio.com/docs/errors/{code})"


def kind(code: int | None) -> str | None:
    """`opted_out`, `invalid` or `landline` when the code says so of the number, else None."""
    return "opted_out" if code in OPTED_OUT else number_status_for(code)


def number_status_for(code: int | None) -> str | None:
    """`invalid` or `landline` when the code says the number cannot take texts, else None."""
    if code in INVALID_NUMBER:
        return "invalid"
    if code in LANDLINE:
        return "landline"
    return None
