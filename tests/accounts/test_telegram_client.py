"""The plain-HTTP Bot API client used outside the bot: JSON and multipart calls, and its errors."""

import pytest

from accounts import telegram
from tests.support.botapi import TOKEN


def test_a_json_call_returns_the_result(api):
    result = telegram.call("sendMessage", params={"chat_id": 5, "text": "привет", "reply_markup": {"a": 1}})
    assert result["text"] == "привет"
    assert api.calls_of("sendMessage")[0].data["reply_markup"] == {"a": 1}


def test_files_go_as_multipart_with_non_string_fields_json_encoded(api):
    telegram.call("sendPhoto", params={"chat_id": 5, "photo": "attach://p", "extra": {"k": 1}},
                  files={"p": ("p.jpg", b"\xff\xd8bytes")})
    call = api.calls_of("sendPhoto")[0]
    assert call.files["p"] == b"\xff\xd8bytes"
    assert call.json("extra") == {"k": 1}


def test_a_refusal_carries_telegrams_code_and_description(api):
    api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(telegram.BotAPIError) as info:
        telegram.call("sendMessage", params={"chat_id": 5, "text": "x"})
    assert info.value.error_code == 403 and "blocked" in info.value.description


def test_an_unreachable_server_has_no_code(settings):
    settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, "http://127.0.0.1:9"
    with pytest.raises(telegram.BotAPIError) as info:
        telegram.call("getMe", timeout=2)
    assert info.value.error_code is None and "cannot reach" in info.value.description


def test_without_a_token_nothing_is_sent(settings):
    settings.BOT_TOKEN = ""
    with pytest.raises(telegram.BotAPIError) as info:
        telegram.call("getMe")
    assert info.value.configured is False
