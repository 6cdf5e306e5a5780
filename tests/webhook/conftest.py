"""Webhook fixtures: the Django app's webhook endpoint in this process (AsyncClient), the real dispatcher and
handlers, and the tests' fake Bot API over HTTP."""

import asyncio
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, override_settings

from botworker.webhook import SECRET_HEADER, _Runtime, webhook_path_token
from tests.support.botapi import TOKEN, FakeBotAPI

SECRET = "test-webhook-secret_0123456789"


def webhook_path(secret: str = SECRET) -> str:
    return f"/telegram/webhook/{webhook_path_token(secret)}/"


@dataclass
class WebhookEnv:
    api: FakeBotAPI
    client: AsyncClient

    async def post(self, update: dict, *, secret: str | None = SECRET, path: str | None = None):
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.client.post(path or webhook_path(), update, content_type="application/json",
                                      headers=headers)

    async def wait_for(self, method: str, predicate=None, *, timeout: float = 10, count: int = 1):
        return await asyncio.to_thread(self.api.wait_for, method, predicate, timeout=timeout, count=count)


@pytest.fixture
async def webhook_env(transactional_db):
    # asgiref's shared thread may hold a connection that an earlier test's server restart or terminated backend
    # killed (nothing checks it between tests): start this test on a fresh one.
    await sync_to_async(connections.close_all)()
    api = FakeBotAPI().start()
    _Runtime.reset()
    try:
        with override_settings(BOT_TOKEN=TOKEN, BOT_API_URL=api.base_url, BOT_WEBHOOK_SECRET=SECRET):
            yield WebhookEnv(api=api, client=AsyncClient())
    finally:
        if _Runtime.bot is not None:
            await _Runtime.bot.session.close()
        _Runtime.reset()
        api.stop()
        # The test's own a*-ORM calls ran on asgiref's shared thread: close its connection, or the test
        # database cannot be dropped at the end.
        await sync_to_async(connections.close_all)()
