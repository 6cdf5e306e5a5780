"""The tests' Bot API server speaks enough of the protocol for a real aiogram Bot."""

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter

from tests.support import updates
from tests.support.botapi import TOKEN, FakeBotAPI


@pytest.fixture
def api():
    with FakeBotAPI() as server:
        yield server


async def test_a_real_aiogram_bot_talks_to_the_fake_server(api):
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    try:
        me = await bot.get_me()
        assert me.username == "test_bot"
        await bot.send_message(42, "привет")
        assert api.wait_for("sendMessage").data["text"] == "привет"
        api.feed(updates.message(42, "/start"))
        got = await bot.get_updates(timeout=1)
        assert got[0].message.text == "/start"
        api.fail("sendMessage", 429, retry_after=3)
        with pytest.raises(TelegramRetryAfter) as info:
            await bot.send_message(42, "x")
        assert info.value.retry_after == 3
        api.block_user(43)
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(43, "x")
        api.add_file("ph1", b"\x89PNG-bytes")
        file = await bot.get_file("ph1")
        data = await bot.download_file(file.file_path)
        assert data.read() == b"\x89PNG-bytes"
    finally:
        await bot.session.close()
