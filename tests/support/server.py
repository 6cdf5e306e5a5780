"""An aiohttp server for tests, run on its own event loop in a background thread (real HTTP on 127.0.0.1), so
that sync tests, async tests and subprocesses can all talk to it. Subclasses build the app in ``make_app``."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class ThreadedServer:
    thread_name = "test-server"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def make_app(self) -> web.Application:
        """Called on the server's loop (so it may create asyncio objects bound to it)."""
        raise NotImplementedError

    def before_stop(self) -> None:
        """Called on the test's thread just before the server shuts down."""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self):
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name=self.thread_name)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            self.before_stop()
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
