"""The webhook's edges: a body that is not a Telegram update, or whose ``update_id`` is not an integer that fits the
column, gets 400 (never a 500, which would make Telegram re-send it forever); a body over 1 MiB gets 413 before it
is read, whether it declares its length or streams it in chunks."""

import json
import socket

import pytest

from botworker.models import ProcessedUpdate
from botworker.webhook import SECRET_HEADER
from botworker.webhook_guard import MAX_BODY_BYTES, WebhookBodyLimit
from tests.support import updates
from tests.support.botapi import FakeBotAPI
from tests.support.processes import start_web, stop, subprocess_env
from tests.webhook.conftest import SECRET, webhook_path

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("update_id", [2**63, 2**64 + 5, -1, "601", True, 601.0, 601.5, None, [601], {"id": 601}],
                         ids=repr)
async def test_an_update_id_that_is_not_a_bigint_gets_400_and_claims_nothing(webhook_env, update_id):
    update = dict(updates.message(6301, "/start"), update_id=update_id)
    response = await webhook_env.post(update)
    assert response.status_code == 400
    assert not await ProcessedUpdate.objects.aexists()
    assert webhook_env.api.calls_of("sendMessage") == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'"update"', b"{}", b'{"update_id": 1' + b"0" * 5000 + b"}",
                                  b'{"update_id": 7, "message": {"chat": "not a chat"}}', b"\xff\xfe{"],
                         ids=["list", "string", "no id", "5000-digit id", "malformed message", "not utf-8"])
async def test_a_body_that_is_not_an_update_gets_400(webhook_env, body):
    response = await webhook_env.client.post(webhook_path(), body, content_type="application/json",
                                             headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400
    assert not await ProcessedUpdate.objects.aexists()


async def test_the_largest_bigint_update_id_is_handled(webhook_env):
    response = await webhook_env.post(dict(updates.message(6302, "/start"), update_id=2**63 - 1))
    assert response.status_code == 200
    assert (await ProcessedUpdate.objects.aget(update_id=2**63 - 1)).done


async def test_a_body_over_one_mebibyte_gets_413_from_the_view_too(webhook_env):
    update = dict(updates.message(6303, "/start"), update_id=6303)
    update["message"]["text"] = "/start " + "x" * MAX_BODY_BYTES
    response = await webhook_env.post(update)
    assert response.status_code == 413
    assert not await ProcessedUpdate.objects.aexists()


# --- the ASGI guard, driven directly --------------------------------------------------------------------------
class Downstream:
    """Stands for Django behind the guard: records what reaches it."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str = webhook_path(), headers: list | None = None) -> dict:
    return {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": headers or []}


async def drive(app, scope: dict, chunks, *, more: bool = True) -> tuple[int, int]:
    """Runs one request through ``app``; returns (status, how many body messages it read)."""
    reads, sent = 0, []
    chunks = iter(chunks)

    async def receive():
        nonlocal reads
        reads += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], reads


def endless(size: int = 64 * 1024):
    while True:
        yield b"x" * size


async def test_the_guard_refuses_a_declared_length_over_the_limit_without_reading_the_body():
    django = Downstream()
    status, reads = await drive(WebhookBodyLimit(django),
                                scope(headers=[(b"content-length", str(MAX_BODY_BYTES + 1).encode())]), endless())
    assert (status, reads, django.bodies) == (413, 0, [])


async def test_the_guard_stops_reading_a_chunked_body_as_soon_as_it_passes_the_limit():
    django = Downstream()
    status, reads = await drive(WebhookBodyLimit(django), scope(), endless(64 * 1024))
    assert status == 413 and django.bodies == []
    assert reads == MAX_BODY_BYTES // (64 * 1024) + 1  # the chunk that passed the limit was the last one read


async def test_the_guard_hands_a_body_within_the_limit_to_django_whole():
    django = Downstream()
    status, _ = await drive(WebhookBodyLimit(django), scope(), [b"a" * 1000, b"b" * 1000, b""])
    assert status == 200 and django.bodies == [b"a" * 1000 + b"b" * 1000]


async def test_the_guard_lets_other_paths_through_unread():
    django = Downstream()
    status, reads = await drive(WebhookBodyLimit(django), scope("/admin/broadcasts/add/"),
                                [b"x" * (2 * MAX_BODY_BYTES)], more=False)
    assert (status, reads, len(django.bodies[0])) == (200, 1, 2 * MAX_BODY_BYTES)


# --- the real web server ----------------------------------------------------------------------------------------
@pytest.fixture
def web_server(tmp_path):
    with FakeBotAPI() as api:
        proc, url = start_web(subprocess_env(bot_api_url=api.base_url, BOT_WEBHOOK_SECRET=SECRET), tmp_path / "web.log")
        try:
            yield api, url
        finally:
            stop(proc)


def raw_request(url: str, head: str, body_parts, *, read_timeout: float = 20) -> bytes:
    """Sends the request head and as much of the body as the server reads, then returns its answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(head.encode())
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest, as it should
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        return answer


def head(url: str, extra: str) -> str:
    return (f"POST {webhook_path()} HTTP/1.1\r\nHost: {url.removeprefix('http://')}\r\n"
            f"Content-Type: application/json\r\n{SECRET_HEADER}: {SECRET}\r\n{extra}\r\n")


@pytest.mark.postgres
def test_the_web_server_refuses_oversized_webhook_bodies_before_reading_them(web_server):
    api, url = web_server
    # A declared length over the limit: answered before a single byte of the body is sent.
    answer = raw_request(url, head(url, f"Content-Length: {2 * MAX_BODY_BYTES}\r\n"), [])
    assert answer.startswith(b"HTTP/1.1 413")
    # A chunked body that never ends: answered once it passes the limit.
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    answer = raw_request(url, head(url, "Transfer-Encoding: chunked\r\n"),
                         [framed] * (MAX_BODY_BYTES // len(chunk) + 2))
    assert answer.startswith(b"HTTP/1.1 413")
    # An update of the usual size goes through.
    body = json.dumps(dict(updates.message(6311, "/start"), update_id=6311)).encode()
    answer = raw_request(url, head(url, f"Content-Length: {len(body)}\r\n"), [body])
    assert answer.startswith(b"HTTP/1.1 200")
    assert ProcessedUpdate.objects.filter(update_id=6311, done=True).exists()
    assert len(api.calls_of("sendMessage")) == 1
