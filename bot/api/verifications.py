"""One-time codes: `POST /api/v1/verifications` texts a 6-digit code, `/verifications/check` checks it.

Codes come from `secrets`, are kept only as a salted SHA-256 (and the text that carried one has its code masked
once the carrier has it), last 10 minutes, take at most 5 checks, and a number gets at most 5 codes an hour.
A check is compared in constant time and counted with a conditional UPDATE, so concurrent checks cannot take
more than 5 guesses between them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from sqlalchemy import case, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import idempotency, views
from bot.api.keys import Principal
from bot.api.messages import ORIGIN, new_id, open_thread, post_in_thread, refuse_opted_out
from bot.api.rules import CODE_LENGTH, CODE_LIFETIME, CODES_PER_HOUR, MAX_CHECKS, ApiError, iso
from bot.lines import KnownLine
from bot.messaging.outbound import claim_now, hand_or_wake, queue_sms
from bot.phone import mask
from bot.services import Services
from storage.db import changed
from storage.models import Message
from storage.models.api import Verification
from storage.states import VERIFICATION_FLOW, MessageStatus, VerificationStatus

log = logging.getLogger(__name__)

ID_PREFIX = "ver_"
MASK = "*" * CODE_LENGTH
# Once the carrier has a code's text (or it failed for good), the code is masked in the stored message.
_MASK_AFTER = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.BLOCKED,
}


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def code_text(line: KnownLine, code: str) -> str:
    brand = line.config.brand.strip()
    return f"Your {brand} code is {code}" if brand else f"Your verification code is {code}"


async def start(
    services: Services, caller: Principal, phone: str, line: KnownLine, key: idempotency.Key | None
) -> idempotency.Answer:
    try:
        async with services.db.session() as session:
            earlier = await idempotency.earlier(session, key)
            if earlier is not None:
                return earlier
            answer, message = await _insert(session, services, caller, phone, line, key)
    except IntegrityError:
        async with services.db.session() as session:
            earlier = await idempotency.earlier(session, key)
        if earlier is None:
            raise
        return earlier
    hand_or_wake(services, message)
    return answer


async def _insert(
    session: AsyncSession,
    services: Services,
    caller: Principal,
    phone: str,
    line: KnownLine,
    key: idempotency.Key | None,
) -> tuple[idempotency.Answer, Message | None]:
    """Queue the code's text, claimed for this process's sender (see `claim_now`); the answer, and the text (for
    `hand_or_wake` once the transaction commits)."""
    now = services.clock.now()
    if session.bind.dialect.name == "postgresql":
        # Requests for one number take turns here, so concurrent ones cannot all pass the hourly count. (SQLite
        # runs one write transaction at a time already.)
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"verify:{phone}"}
        )
    recent = await session.scalar(
        select(func.count(Verification.id)).where(
            Verification.phone == phone, Verification.created_at > now - timedelta(hours=1)
        )
    )
    if (recent or 0) >= CODES_PER_HOUR:
        raise ApiError(
            429,
            "too_many_codes",
            f"to: {phone} was sent {CODES_PER_HOUR} codes in the last hour; try again later",
            headers={"Retry-After": "600"},
        )
    await refuse_opted_out(session, phone, line, "transactional")
    # A new code replaces the number's pending ones from this caller.
    await session.execute(
        update(Verification)
        .where(
            Verification.phone == phone,
            Verification.key_name == caller.name,
            VERIFICATION_FLOW.where(Verification.status, VerificationStatus.PENDING, VerificationStatus.EXPIRED),
        )
        .values(status=VerificationStatus.EXPIRED)
    )
    verification_id, code, salt = new_id(ID_PREFIX), new_code(), secrets.token_hex(16)
    conversation, created = await open_thread(session, services, line, phone)
    claim = await claim_now(services, session, line=line, phone=phone, purpose="transactional")
    message = await queue_sms(
        session,
        line=line,
        phone=phone,
        body=code_text(line, code),
        origin=ORIGIN,
        purpose="transactional",
        origin_ref=verification_id,
        conversation_id=conversation.id,
        slack_channel=line.config.channel,
        claim=claim,
    )
    assert message is not None
    await session.flush()
    expires = now + CODE_LIFETIME
    session.add(
        Verification(
            id=verification_id,
            key_name=caller.name,
            line_id=line.id,
            phone=phone,
            salt=salt,
            code_hash=code_hash(salt, code),
            status=VerificationStatus.PENDING,
            message_id=message.id,
            expires_at=expires,
            created_at=now,
        )
    )
    await post_in_thread(session, conversation, created, message, views.code_sent(caller.name))
    log.info("api: %s sent verification %s to %s", caller.name, verification_id, mask(phone))
    answer = idempotency.Answer(202, {"id": verification_id, "status": "pending", "expires_at": iso(expires)})
    return await idempotency.remember(session, key, answer), message


async def check(
    services: Services, caller: Principal, phone: str, code: str, key: idempotency.Key | None
) -> idempotency.Answer:
    async with services.db.session() as session:
        earlier = await idempotency.earlier(session, key)
        if earlier is not None:
            return earlier
        status = await _check(session, services, caller, phone, code)
        return await idempotency.remember(session, key, idempotency.Answer(200, {"status": status}))


async def _check(session: AsyncSession, services: Services, caller: Principal, phone: str, code: str) -> str:
    now = services.clock.now()
    # The number's pending verification from this caller (a new code expires the one before), else its latest.
    verification = await session.scalar(
        select(Verification)
        .where(Verification.phone == phone, Verification.key_name == caller.name)
        .order_by(
            case((Verification.status == VerificationStatus.PENDING, 0), else_=1),
            Verification.created_at.desc(),
        )
        .limit(1)
    )
    if verification is None or verification.status == VerificationStatus.APPROVED:
        raise ApiError(404, "not_found", f"to: no verification is pending for {phone}")
    if verification.status != VerificationStatus.PENDING:
        return str(verification.status)
    if verification.expires_at <= now:
        verification.status = VerificationStatus.EXPIRED
        return str(VerificationStatus.EXPIRED)
    # Count the guess first (at most MAX_CHECKS guesses pass this, however many checks run at once).
    counted = await session.execute(
        update(Verification)
        .where(
            Verification.id == verification.id,
            Verification.status == VerificationStatus.PENDING,
            Verification.attempts < MAX_CHECKS,
        )
        .values(attempts=Verification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(verification)
    if changed(counted) != 1:
        return str(verification.status)
    if hmac.compare_digest(code_hash(verification.salt, code), verification.code_hash):
        verification.status = VerificationStatus.APPROVED
    elif verification.attempts >= MAX_CHECKS:
        verification.status = VerificationStatus.MAX_ATTEMPTS_REACHED
    return str(verification.status)


async def on_status(session: AsyncSession, message: Message) -> None:
    """Status listener: once a code's text is with the carrier (or failed), mask the code in the stored text."""
    if message.origin != ORIGIN or not (message.origin_ref or "").startswith(ID_PREFIX):
        return
    if message.status in _MASK_AFTER and any(ch.isdigit() for ch in message.body[-CODE_LENGTH:]):
        message.body = message.body[:-CODE_LENGTH] + MASK
