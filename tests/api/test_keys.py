"""API keys: the `sms-bridge api-key` commands, hashed storage, scopes per route, revocation, TOML tokens."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot import cli
from bot.api import keys
from bot.settings import hash_token
from storage.db import Database
from storage.models.api import ApiKey
from tests.api.helpers import CONFIG_TOKEN, CUSTOMER, call, config, make_key


def test_cli_creates_lists_and_revokes(tmp_path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["api-key", "create", "shop", "--scopes", "messages,verify"]) == 0
    out = capsys.readouterr().out
    token = next(line.split()[-1] for line in out.splitlines() if "token:" in line)
    secret = next(line.split()[-1] for line in out.splitlines() if "callback secret:" in line)
    assert token.startswith("sbk_") and len(secret) == 64

    async def stored() -> list[ApiKey]:
        db = Database(url)
        try:
            async with db.session() as session:
                return list((await session.scalars(select(ApiKey))).all())
        finally:
            await db.dispose()

    (row,) = asyncio.run(stored())
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, row.scopes, row.name)

    assert cli.main(["api-key", "create", "shop", "--scopes", "messages"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert cli.main(["api-key", "create", "other", "--scopes", "messages,sms"]) == 2
    assert "sms" in capsys.readouterr().err

    assert cli.main(["api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert "shop" in listing and "messages,verify" in listing and "never" in listing and "active" in listing
    assert token not in listing and secret not in listing

    assert cli.main(["api-key", "revoke", "shop"]) == 0
    capsys.readouterr()
    assert cli.main(["api-key", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli.main(["api-key", "revoke", "nobody"]) == 2


async def test_scopes_revocation_and_config_tokens(make_bridge, twilio):
    bridge = await make_bridge(config=config())
    texter = await make_key(bridge, "texter", ("messages",))
    pager = await make_key(bridge, "pager", ("notify",))
    body = {"to": CUSTOMER, "text": "Your order has shipped"}

    status, answer, headers = await call(bridge, "POST", "/api/v1/messages", json_body=body)
    assert status == 401 and answer["error"]["code"] == "unauthorized" and "WWW-Authenticate" in headers
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token="sbk_nope", json_body=body)
    assert status == 401 and answer["error"]["message"].startswith("Authorization:")
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=pager.token, json_body=body)
    assert status == 403 and "'messages' scope" in answer["error"]["message"]
    status, answer, _ = await call(bridge, "POST", "/api/v1/verifications", token=texter.token, json_body=body)
    assert status == 403
    status, answer, _ = await call(bridge, "POST", "/api/v1/notify", token=texter.token, json_body=body)
    assert status == 403 and "'notify' scope" in answer["error"]

    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=texter.token, json_body=body)
    assert status == 202
    status, answer, _ = await call(
        bridge, "POST", "/api/v1/notify", token=pager.token, json_body={"to": "+14155550177", "text": "disk full"}
    )
    assert status == 202
    # A token from [notify] api_tokens has every scope.
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=CONFIG_TOKEN, json_body=body)
    assert status == 202
    status, answer, _ = await call(bridge, "GET", "/api/v1/openapi.json", token=CONFIG_TOKEN)
    assert status == 200

    async with bridge.services.db.session() as session:
        used = await session.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "texter"))
        await keys.revoke(session, "texter", bridge.services.clock.now())
    assert used is not None
    status, answer, _ = await call(bridge, "POST", "/api/v1/messages", token=texter.token, json_body=body)
    assert status == 401 and "revoked" in answer["error"]["message"]
