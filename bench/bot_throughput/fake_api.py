"""The tests' fake Bot API server, run in a separate process, recording when each update was handed out by
``getUpdates`` and when the bot's reply to it arrived (the first ``sendMessage`` to its chat).

Every update of a run comes from its own chat, so a reply is matched to its update by chat id. Driven from the
bot's process through a pipe:

    server = FakeServer.start()              # spawns the process; server.base_url
    records = server.run(updates, rate=None) # None: queue all at once; else feed `rate` updates per second
    server.stop()
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
import time

from aiohttp import web


def _recording_api():
    from tests.support.botapi import FakeBotAPI

    class RecordingBotAPI(FakeBotAPI):
        def __init__(self):
            super().__init__()
            self.handed: dict[int, float] = {}    # update_id -> when getUpdates handed it out
            self.replied: dict[int, float] = {}   # chat_id -> first sendMessage to it
            self.results["sendMessage"] = self._reply

        def _reply(self, data: dict) -> dict:
            at = time.monotonic()
            with self._lock:
                self.replied.setdefault(int(data.get("chat_id") or 0), at)
            return self._message(data)

        async def _get_updates(self, data: dict) -> web.Response:
            # FakeBotAPI._get_updates, plus the hand-out time of each update.
            offset = int(data.get("offset") or 0)
            timeout = float(data.get("timeout") or 0)
            limit = int(data.get("limit") or 100)
            deadline = time.monotonic() + min(timeout, 30)
            while True:
                with self._lock:
                    if offset:
                        self.confirmed_offset = max(self.confirmed_offset, offset)
                        self._updates = [u for u in self._updates if u["update_id"] >= offset]
                    batch = self._updates[:limit]
                    now = time.monotonic()
                    for update in batch:
                        self.handed.setdefault(update["update_id"], now)
                if batch or time.monotonic() >= deadline:
                    return web.json_response({"ok": True, "result": batch})
                self._new_update.clear()
                try:
                    await asyncio.wait_for(self._new_update.wait(), max(0.01, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    pass

        def calls_total(self) -> int:
            with self._lock:
                return len(self.calls)

    return RecordingBotAPI()


def _chat_of(update: dict) -> int:
    if "message" in update:
        return update["message"]["chat"]["id"]
    return update["callback_query"]["message"]["chat"]["id"]


def _feed(api, updates: list[dict], rate: float | None) -> None:
    if rate is None:
        api.feed(*updates)
        return
    started = time.monotonic()
    for n, update in enumerate(updates):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        api.feed(update)


def _serve(conn) -> None:
    """The server process: start the API, then obey commands from the pipe until "stop"."""
    api = _recording_api().start()
    conn.send(api.base_url)
    while True:
        command, *args = conn.recv()
        if command == "stop":
            api.stop()
            conn.send("stopped")
            return
        updates, rate, timeout = args
        feeder = threading.Thread(target=_feed, args=(api, updates, rate), daemon=True)
        feeder.start()
        chats = [_chat_of(u) for u in updates]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with api._lock:
                if all(chat in api.replied for chat in chats):
                    break
            time.sleep(0.002)
        feeder.join()
        with api._lock:
            records = [(api.handed.get(u["update_id"]), api.replied.get(chat)) for u, chat in zip(updates, chats)]
        conn.send({"records": records, "calls": api.calls_total()})


class FakeServer:
    def __init__(self, process, conn, base_url: str):
        self.process, self.conn, self.base_url = process, conn, base_url

    @classmethod
    def start(cls) -> "FakeServer":
        ctx = mp.get_context("spawn")  # a clean interpreter: no Django, no event loop inherited
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child,), daemon=True, name="fake-bot-api")
        process.start()
        if not parent.poll(30):
            raise RuntimeError("the fake Bot API process did not start")
        return cls(process, parent, parent.recv())

    def run(self, updates: list[dict], *, rate: float | None = None, timeout: float = 120) -> dict:
        """Feed ``updates``; returns {"records": [(handed_at, replied_at) per update], "calls": total API calls}."""
        self.conn.send(("run", updates, rate, timeout))
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop",))
        self.conn.recv()
        self.process.join(10)
