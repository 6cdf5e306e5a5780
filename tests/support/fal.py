"""A fake FAL AI server for tests: the queue protocol and the storage upload endpoints, over real HTTP on
127.0.0.1 in a background thread (like ``botapi.FakeBotAPI``). Point ``FAL_QUEUE_URL``, ``FAL_REST_URL`` and
``FAL_CDN_URL`` at ``fake.base_url``.

Each submitted request follows a script: ``queued`` status calls answer IN_QUEUE, then ``running`` calls
IN_PROGRESS, then COMPLETED. Its outcome is ``ok`` (a real output), ``error`` (COMPLETED, then an error result,
as FAL reports failures: 422 content policy unless ``error_status``/``error_type``/``retryable`` say otherwise),
``status_error`` (the COMPLETED status itself carries ``error``/``error_type``, the result is the error too),
``malformed`` (200 with output lacking the files), or ``hang`` (never completes). Imagen 4's input is validated
as FAL validates it: a request with unknown or missing fields or a bad aspect ratio ends in a 422 result.
``fail(path_part, status, times)`` injects HTTP errors (429, 500...) into any route. A script may also ask for
``images=N`` result URLs whatever ``num_images`` was, or name its own ``image_urls``; ``serve(name, ...)`` answers
``/files/<name>`` with anything (an HTML page, a redirect), for the download checks.

Webhooks are signed as FAL signs them (Ed25519 over request id, user id, timestamp and the body's SHA-256) with
the fake's own key, published at ``jwks_url``; ``rotate_key()`` switches to a new one.

    with FakeFal() as fal:
        fal.script(outcome="error")
        ...
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image

from tests.support.server import ThreadedServer

KEY = "test-fal-key"


@dataclass
class Job:
    request_id: str
    endpoint: str
    arguments: dict
    outcome: str
    queued: int
    running: int
    webhook: str | None
    images: int | None = None
    image_urls: list[str] | None = None
    error: ErrorAnswer | None = None
    status_calls: int = 0
    result_calls: int = 0
    cancelled: bool = False

    @property
    def app(self) -> str:
        return "/".join(self.endpoint.split("/")[:2])


@dataclass
class ErrorAnswer:
    """How a failed request's result answers (fal-protocol.md "Errors")."""

    status: int = 422
    error_type: str = "content_policy_violation"
    retryable: bool | None = None  # X-Fal-Retryable, when FAL sends it
    detail: object = None  # the body's detail; a content policy violation on the prompt by default

    def response(self) -> web.Response:
        headers = {"X-Fal-Error-Type": self.error_type}
        if self.retryable is not None:
            headers["X-Fal-Retryable"] = "true" if self.retryable else "false"
        detail = self.detail if self.detail is not None else _error_detail(self.error_type)["detail"]
        body = {"detail": detail} if self.status == 422 else {"detail": detail, "error_type": self.error_type}
        return web.json_response(body, status=self.status, headers=headers)


@dataclass
class Script:
    outcome: str = "ok"
    queued: int = 1
    running: int = 1
    images: int | None = None
    image_urls: list[str] | None = None
    error: ErrorAnswer | None = None


@dataclass
class Injected:
    path_part: str
    status: int
    times: int
    body: dict = field(default_factory=lambda: {"detail": "injected failure"})
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (a provider that times out)


class FakeFal(ThreadedServer):
    thread_name = "fake-fal"

    def __init__(self, *, key: str = KEY, host: str = "127.0.0.1"):
        super().__init__(host=host)
        self.key = key
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.default = Script()
        self._scripts: list[Script] = []
        self._faults: list[Injected] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.user_id = "fake-fal-user"
        self.signing_key = Ed25519PrivateKey.generate()
        self.published = [self.signing_key]
        self.served: dict[str, tuple[int, bytes, dict]] = {}

    # --- life cycle -----------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # --- what tests do --------------------------------------------------------------------------------------
    def script(self, *, outcome: str = "ok", queued: int = 1, running: int = 1, images: int | None = None,
               image_urls: list[str] | None = None, error_status: int = 422,
               error_type: str = "content_policy_violation", retryable: bool | None = None,
               detail: object = None) -> None:
        """The script of the next submitted request (then the default again); ``error_*`` shape the error result
        of the ``error`` and ``status_error`` outcomes."""
        with self._lock:
            self._scripts.append(Script(outcome, queued, running, images, image_urls,
                                        ErrorAnswer(error_status, error_type, retryable, detail)))

    def serve(self, name: str, body: bytes = b"", *, status: int = 200, headers: dict | None = None) -> str:
        """Answer ``GET /files/<name>`` with this; returns its URL."""
        with self._lock:
            self.served[name] = (status, body, headers or {})
        return f"{self.base_url}/files/{name}"

    def redirect(self, name: str, location: str, *, status: int = 302) -> str:
        return self.serve(name, status=status, headers={"Location": location})

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def rotate_key(self, *, keep_old: bool = False) -> None:
        """Sign with a new key from now on and publish it (alone, unless ``keep_old``)."""
        with self._lock:
            self.signing_key = Ed25519PrivateKey.generate()
            self.published = [*self.published, self.signing_key] if keep_old else [self.signing_key]

    def signed_webhook(self, request_id: str, *, body: dict | bytes | None = None, timestamp: int | None = None,
                       key: Ed25519PrivateKey | None = None) -> tuple[bytes, dict]:
        """The raw body (``webhook_body`` unless given) and headers of FAL's webhook for this request, signed as
        FAL signs it (with ``key`` instead of the fake's own when given)."""
        if not isinstance(body, bytes):
            body = json.dumps(self.webhook_body(request_id) if body is None else body).encode()
        raw = body
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        message = "\n".join((request_id, self.user_id, stamp, hashlib.sha256(raw).hexdigest())).encode()
        signature = (key or self.signing_key).sign(message).hex()
        return raw, {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": self.user_id,
                     "X-Fal-Webhook-Timestamp": stamp, "X-Fal-Webhook-Signature": signature}

    def jwks_fetches(self) -> int:
        with self._lock:
            return self.requests.count(("GET", "/.well-known/jwks.json"))

    def fail(self, path_part: str, status: int = 500, *, times: int = 1, body: dict | None = None,
             headers: dict | None = None, delay: float = 0.0) -> None:
        """Answer the next ``times`` requests whose path contains ``path_part`` with ``status``, after ``delay``."""
        with self._lock:
            self._faults.append(Injected(path_part, status, times, body or {"detail": "injected failure"},
                                         headers or {}, delay))

    def submitted(self, endpoint: str | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs.values() if endpoint is None or j.endpoint == endpoint]

    def webhook_body(self, request_id: str) -> dict:
        """What FAL would POST to the webhook for this request, as if it had ended now."""
        job = self.jobs[request_id]
        if job.outcome in ("error", "status_error"):
            answer = job.error or ErrorAnswer()
            return {"request_id": request_id, "gateway_request_id": request_id, "status": "ERROR",
                    "error": f"Invalid status code: {answer.status}", "payload": _error_detail(answer.error_type)}
        return {"request_id": request_id, "gateway_request_id": request_id, "status": "OK",
                "payload": self._output(job), "error": None}

    # --- the server -----------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.read()
        with self._lock:
            self.requests.append((request.method, path))
            fault = next((f for f in self._faults if f.times > 0 and f.path_part in path), None)
            if fault:
                fault.times -= 1
        if fault:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if request.method == "GET" and path == "/.well-known/jwks.json":
            return web.json_response({"keys": [_jwk(key) for key in self.published]})
        if request.method == "GET" and path.removeprefix("/files/") in self.served:
            status, content, headers = self.served[path.removeprefix("/files/")]
            return web.Response(body=content, status=status, headers=headers)
        if request.method == "GET" and path.startswith("/files/"):
            content = self.uploads.get(path.removeprefix("/files/"))
            return web.Response(body=content) if content is not None else web.Response(status=404)
        if request.method == "POST" and path == "/files/upload":
            if not request.headers.get("Authorization", "").startswith("Bearer fake-token"):
                return web.json_response({"detail": "bad token"}, status=401)
            name = f"u{next(self._ids)}-{request.headers.get('X-Fal-File-Name', 'file')}"
            self.uploads[name] = body
            return web.json_response({"access_url": f"{self.base_url}/files/{name}"})
        if request.headers.get("Authorization") != f"Key {self.key}":
            return web.json_response({"detail": "Unauthorized"}, status=401)
        if request.method == "POST" and path == "/storage/auth/token":
            return web.json_response({"token": "fake-token", "token_type": "Bearer", "base_url": self.base_url,
                                      "expires_at": "2099-01-01T00:00:00Z"})
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[2] == "requests":
            return self._request_route(request.method, "/".join(parts[:2]), parts[3], parts[4:])
        if request.method == "POST":
            return self._submit(path.strip("/"), body, request.query.get("fal_webhook"))
        return web.json_response({"detail": "Not Found"}, status=404)

    def _submit(self, endpoint: str, body: bytes, webhook: str | None) -> web.Response:
        try:
            arguments = json.loads(body or b"{}")
        except ValueError:
            return web.json_response({"detail": "invalid JSON"}, status=400)
        with self._lock:
            script = self._scripts.pop(0) if self._scripts else self.default
            request_id = f"req-{next(self._ids)}-{int(time.time() * 1000) % 100000}"
            outcome, error = script.outcome, script.error
            if (problems := _input_problems(endpoint, arguments)) and outcome in ("ok", "malformed"):
                outcome, error = "error", ErrorAnswer(422, "validation_error", None, problems)
            self.jobs[request_id] = Job(request_id, endpoint, arguments, outcome, script.queued,
                                        script.running, webhook, script.images, script.image_urls, error)
        app = "/".join(endpoint.split("/")[:2])
        base = f"{self.base_url}/{app}/requests/{request_id}"
        return web.json_response({"status": "IN_QUEUE", "request_id": request_id, "gateway_request_id": request_id,
                                  "queue_position": 0, "status_url": f"{base}/status", "response_url": base,
                                  "cancel_url": f"{base}/cancel"})

    def _request_route(self, method: str, app: str, request_id: str, rest: list[str]) -> web.Response:
        job = self.jobs.get(request_id)
        if job is None or job.app != app:
            return web.json_response({"detail": "Request not found"}, status=404)
        if rest == ["status"] and method == "GET":
            return self._status(job)
        if rest == ["cancel"] and method == "PUT":
            if self._state(job) == "COMPLETED":
                return web.json_response({"status": "ALREADY_COMPLETED"}, status=400)
            job.cancelled = True
            return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)
        if not rest and method == "GET":
            job.result_calls += 1
            if self._state(job) != "COMPLETED":
                return web.json_response({"detail": "Request is still in progress"}, status=400)
            if job.outcome in ("error", "status_error"):
                return (job.error or ErrorAnswer()).response()
            return web.json_response(self._output(job))
        return web.json_response({"detail": "Not Found"}, status=404)

    def _state(self, job: Job) -> str:
        if job.outcome == "hang" or job.cancelled:
            return "IN_QUEUE" if job.status_calls <= job.queued else "IN_PROGRESS"
        if job.status_calls <= job.queued:
            return "IN_QUEUE"
        if job.status_calls <= job.queued + job.running:
            return "IN_PROGRESS"
        return "COMPLETED"

    def _status(self, job: Job) -> web.Response:
        job.status_calls += 1
        state = self._state(job)
        if job.outcome == "malformed_status":
            return web.Response(text="<html>bad gateway</html>", status=200, content_type="text/html")
        if state == "IN_QUEUE":
            return web.json_response({"status": state, "queue_position": 0, "logs": None,
                                      "request_id": job.request_id}, status=202)
        if state == "IN_PROGRESS":
            logs = [{"message": "step 500/1000", "level": "INFO", "source": "user", "timestamp": "t"}]
            return web.json_response({"status": state, "logs": logs, "request_id": job.request_id}, status=202)
        body = {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.0}, "request_id": job.request_id}
        if job.outcome == "status_error":
            answer = job.error or ErrorAnswer()
            body.update(error=f"Invalid status code: {answer.status}", error_type=answer.error_type)
        return web.json_response(body)

    def _output(self, job: Job) -> dict:
        if job.outcome == "malformed":
            return {"images": [], "unexpected": True} if "flux-lora" == job.app.split("/")[1] else {"oops": 1}
        if job.app == "fal-ai/flux-lora" or job.endpoint == IMAGEN4:
            urls = list(job.image_urls or [])
            for number in range(0 if job.image_urls else job.images or int(job.arguments.get("num_images") or 1)):
                name = f"{job.request_id}-{number + 1}.jpg"
                self.uploads.setdefault(name, _jpeg(64, 64, number))
                urls.append(f"{self.base_url}/files/{name}")
            images = [{"url": url, "width": 64, "height": 64, "content_type": "image/jpeg"} for url in urls]
            if job.endpoint == IMAGEN4:
                return {"images": images, "seed": 42}
            return {"images": images, "seed": 42, "has_nsfw_concepts": [False] * len(images),
                    "prompt": job.arguments.get("prompt")}
        return {"diffusers_lora_file": {"url": f"{self.base_url}/files/{job.request_id}.safetensors",
                                        "content_type": "application/octet-stream"},
                "config_file": {"url": f"{self.base_url}/files/{job.request_id}.json"}}


def _error_detail(error_type: str = "content_policy_violation") -> dict:
    return {"detail": [{"loc": ["body", "prompt"], "msg": error_type.replace("_", " "), "type": error_type}]}


IMAGEN4 = "fal-ai/imagen4/preview"
# Imagen 4's input schema (fal-protocol.md "Models"): field -> (required, check).
IMAGEN4_SCHEMA = {
    "prompt": (True, lambda v: isinstance(v, str) and v.strip() != ""),
    "aspect_ratio": (False, lambda v: v in ("1:1", "16:9", "9:16", "3:4", "4:3")),
    "num_images": (False, lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4),
    "negative_prompt": (False, lambda v: isinstance(v, str)),
    "seed": (False, lambda v: isinstance(v, int) and not isinstance(v, bool)),
}


def _input_problems(endpoint: str, arguments) -> list[dict]:
    """FAL's 422 ``detail`` for input that breaks the model's schema (only Imagen 4's is checked here)."""
    if endpoint != IMAGEN4:
        return []
    if not isinstance(arguments, dict):
        return [{"loc": ["body"], "msg": "Input should be an object", "type": "model_attributes_type"}]
    problems = [{"loc": ["body", name], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
                for name in arguments if name not in IMAGEN4_SCHEMA]
    for name, (required, check) in IMAGEN4_SCHEMA.items():
        if name not in arguments:
            if required:
                problems.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
        elif not check(arguments[name]):
            problems.append({"loc": ["body", name], "msg": "Invalid value", "type": "value_error"})
    return problems


def _jwk(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def _jpeg(width: int, height: int, seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40 * seed % 255, 120, 200)).save(out, "JPEG")
    return out.getvalue()
