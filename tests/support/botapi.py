"""A small Telegram Bot API server for tests: real HTTP on 127.0.0.1, run in a background thread.

The bot under test talks to it through ``BOT_API_URL`` / ``TelegramAPIServer.from_base(fake.base_url)``.
It records every request, serves ``getUpdates`` long polling from a queue that tests ``feed()``, serves file
downloads, and can inject the errors real bots meet (429 with retry_after, 403 blocked, 5xx).

    with FakeBotAPI() as api:
        api.feed(updates.message(user_id=1, text="/start"))
        call = api.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from tests.support.server import ThreadedServer

TOKEN = "123456789:TEST-token-for-the-fake-bot-api-server"
BOT_ID = 123456789


@dataclass
class Call:
    method: str
    data: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200  # the HTTP status answered (an injected fault's, else 200)
    result: Any = None  # what was answered (set just after the call is recorded), e.g. the sent message

    @property
    def result_message_id(self) -> int | None:
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    def json(self, key: str):
        """A field that aiogram sends JSON-encoded (reply_markup, prices, media...)."""
        value = self.data.get(key)
        return json.loads(value) if isinstance(value, str) else value

    @property
    def text(self) -> str:
        return self.data.get("text") or self.data.get("caption") or ""

    def buttons(self) -> list[dict]:
        markup = self.json("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def callback_datas(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]


class Fault:
    """An error to answer with, ``times`` times, for one method."""

    def __init__(self, status: int, description: str, times: int = 1, retry_after: int | None = None,
                 when: Callable[[dict], bool] | None = None):
        self.status, self.description, self.times, self.retry_after, self.when = (
            status, description, times, retry_after, when)

    def body(self) -> dict:
        body = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class FakeBotAPI(ThreadedServer):
    thread_name = "fake-bot-api"

    def __init__(self, token: str = TOKEN, *, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host=host, port=port)
        self.token = token
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self.results: dict[str, Any] = {}          # method -> fixed result, or callable(data) -> result
        self.webhook_url = ""
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._new_update: asyncio.Event | None = None
        self.confirmed_offset = 0
        self.offsets: list[tuple[float, int]] = []  # (monotonic time, offset) of every getUpdates with an offset
        self._closing = False
        self.last_get_updates: dict = {}

    # --- life cycle -----------------------------------------------------------------------------------------
    def before_stop(self) -> None:
        # Long polls in progress return at once instead of holding the shutdown for their whole timeout.
        self._closing = True
        self._loop.call_soon_threadsafe(self._new_update.set)

    def make_app(self) -> web.Application:
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    # --- what tests do --------------------------------------------------------------------------------------
    def feed(self, *updates: dict) -> list[int]:
        """Queue updates for getUpdates; assigns update_id when missing. Returns the ids."""
        ids = []
        with self._lock:
            for update in updates:
                update.setdefault("update_id", next(self._update_ids))
                ids.append(update["update_id"])
                self._updates.append(update)
        if self._loop:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return ids

    def fail(self, method: str, status: int = 500, description: str = "Internal Server Error", *, times: int = 1,
             retry_after: int | None = None, when: Callable[[dict], bool] | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` (matching ``when``) with an error."""
        if status == 429 and description == "Internal Server Error":
            description = f"Too Many Requests: retry after {retry_after or 1}"
            retry_after = retry_after or 1
        with self._lock:
            self._faults[method].append(Fault(status, description, times, retry_after, when))

    def block_user(self, chat_id: int) -> None:
        """Every send to this chat answers 403 'bot was blocked by the user'."""
        for method in ("sendMessage", "sendPhoto", "sendMediaGroup", "sendInvoice", "copyMessage"):
            self.fail(method, 403, "Forbidden: bot was blocked by the user", times=10**9,
                      when=lambda d, c=str(chat_id): str(d.get("chat_id")) == c)

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> str:
        path = file_path or f"photos/{file_id}.jpg"
        with self._lock:
            self.files[file_id] = content
            self.files[path] = content
        return path

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None, *, timeout: float = 10,
                 count: int = 1) -> Call | list[Call]:
        """Block until ``count`` calls of ``method`` (matching ``predicate``) were made; returns the last/all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method and (predicate is None or predicate(c))]
                if len(found) >= count:
                    return found[-1] if count == 1 else found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.text[:60]) for c in self.calls[-15:]]
                    raise AssertionError(f"no {count}x {method} within {timeout}s; last calls: {seen}")
                self._changed.wait(left)

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def first_confirmation_of(self, update_id: int) -> float | None:
        """When a getUpdates first confirmed ``update_id`` (an offset past it), on the clock of ``Call.at``."""
        with self._lock:
            return next((at for at, offset in self.offsets if offset > update_id), None)

    # --- the server -----------------------------------------------------------------------------------------
    async def _read(self, request: web.Request) -> tuple[dict, dict]:
        data, files = dict(request.query), {}
        if request.content_type == "application/json":
            data.update(await request.json())
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if hasattr(value, "file"):
                    files[key] = value.file.read()
                    data[key] = f"attach://{key}"
                else:
                    data[key] = value
        return data, files

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        data, files = await self._read(request)
        if method == "getUpdates":
            return await self._get_updates(data)
        call = Call(method, data, files)
        with self._changed:
            self.calls.append(call)
            fault = next((f for f in self._faults[method] if f.times > 0 and (f.when is None or f.when(data))), None)
            if fault:
                fault.times -= 1
                call.status = fault.status
            self._changed.notify_all()
        if fault:
            return web.json_response(fault.body(), status=fault.status)
        if (refusal := _refusal(method, data)) is not None:
            call.status = 400
            return web.json_response({"ok": False, "error_code": 400, "description": refusal}, status=400)
        if method in self.results:  # a test's override: a value, or callable(data) -> value
            result = self.results[method]
            result = result(data) if callable(result) else result
        else:
            default = _DEFAULTS.get(method, True)
            result = default(self, data) if callable(default) else default
        with self._changed:
            call.result = result
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, data: dict) -> web.Response:
        self.last_get_updates = dict(data)  # what the poller asked for (offset, timeout, allowed_updates)
        offset = int(data.get("offset") or 0)
        if offset:
            with self._lock:
                self.offsets.append((time.monotonic(), offset))
        timeout = float(data.get("timeout") or 0)
        limit = int(data.get("limit") or 100)
        deadline = time.monotonic() + min(timeout, 30)
        while True:
            with self._lock:
                if offset:
                    self.confirmed_offset = max(self.confirmed_offset, offset)
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                batch = self._updates[:limit]
            if batch or self._closing or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": batch})
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["path"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    # --- default results ------------------------------------------------------------------------------------
    def _message(self, data: dict, **extra) -> dict:
        chat_id = int(data.get("chat_id") or 0)
        message = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "TestBot", "username": "test_bot"},
        }
        if "text" in data:
            message["text"] = data["text"]
        if "caption" in data:
            message["caption"] = data["caption"]
        message.update(extra)
        return message



def _send(api: FakeBotAPI, data: dict) -> dict:
    return api._message(data)


def _send_photo(api: FakeBotAPI, data: dict) -> dict:
    photo = [{"file_id": f"sent-{next(api._message_ids)}", "file_unique_id": "u", "width": 512, "height": 512}]
    return api._message(data, photo=photo)


def _send_media_group(api: FakeBotAPI, data: dict) -> list[dict]:
    media = data.get("media")
    items = json.loads(media) if isinstance(media, str) else (media or [])
    return [api._message(data, photo=[{"file_id": "g", "file_unique_id": "g", "width": 1, "height": 1}])
            for _ in items]


def _refusal(method: str, data: dict) -> str | None:
    """What Telegram refuses whatever the chat: an album takes 2-10 media."""
    if method == "sendMediaGroup":
        media = data.get("media")
        items = json.loads(media) if isinstance(media, str) else (media or [])
        if len(items) > 10:
            return "Bad Request: too much messages to send as an album"
        if len(items) < 2:
            return "Bad Request: media group must include 2-10 items"
    return None


def _edit(api: FakeBotAPI, data: dict) -> dict | bool:
    if data.get("inline_message_id"):
        return True
    return api._message(data, message_id=int(data.get("message_id") or 0), edit_date=int(time.time()))


def _get_me(api: FakeBotAPI, data: dict) -> dict:
    return {"id": BOT_ID, "is_bot": True, "first_name": "TestBot", "username": "test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


def _webhook_info(api: FakeBotAPI, data: dict) -> dict:
    return {"url": api.webhook_url, "has_custom_certificate": False, "pending_update_count": api.pending_updates()}


def _set_webhook(api: FakeBotAPI, data: dict) -> bool:
    api.webhook_url = data.get("url", "")
    return True


def _delete_webhook(api: FakeBotAPI, data: dict) -> bool:
    api.webhook_url = ""
    return True


def _get_file(api: FakeBotAPI, data: dict) -> dict:
    file_id = data["file_id"]
    content = api.files.get(file_id)
    path = next((p for p, c in api.files.items() if p != file_id and c is content), None) if content else None
    if path is None:
        return {"file_id": file_id, "file_unique_id": file_id}  # no file_path: not downloadable
    return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(content), "file_path": path}


def _star_transactions(api: FakeBotAPI, data: dict) -> dict:
    return {"transactions": []}


_DEFAULTS: dict[str, Any] = {
    "getMe": _get_me,
    "sendMessage": _send,
    "sendInvoice": _send,
    "copyMessage": lambda api, d: {"message_id": next(api._message_ids)},
    "sendPhoto": _send_photo,
    "sendDocument": _send,
    "sendMediaGroup": _send_media_group,
    "editMessageText": _edit,
    "editMessageCaption": _edit,
    "editMessageReplyMarkup": _edit,
    "editMessageMedia": _edit,
    "getWebhookInfo": _webhook_info,
    "setWebhook": _set_webhook,
    "deleteWebhook": _delete_webhook,
    "getStarTransactions": _star_transactions,
    "getFile": _get_file,
}
