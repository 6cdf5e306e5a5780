"""The FAL AI provider: a small synchronous client over the queue API (run inside tasks, never in the bot's loop),
and a clearly labelled local development backend used only when there is no ``FAL_KEY`` and ``DEBUG`` is on.

Hosts come from settings (``FAL_QUEUE_URL``, ``FAL_REST_URL``, ``FAL_CDN_URL``); nothing is contacted at import.
Every call has a timeout; 429, 5xx and connection errors are retried with backoff; everything else becomes a
domain error from ``generations.exceptions``. Result files are fetched through ``generations.fal_download`` (every
URL and redirect checked); webhook signatures are checked by ``generations.fal_signature``.

Log lines and error texts (which end up in rows and the admin) name URLs without their query: the submit URL's
query carries our webhook URL, and download URLs may carry access tokens. The key travels only in the
Authorization header, which never follows a redirect.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageDraw

from common.log_once import log_once
from generations import fal_download
from generations.exceptions import (
    ProviderError, ProviderNotReady, ProviderRejected, ProviderTransientError, ProviderUnavailable,
)

logger = logging.getLogger(__name__)

PORTRAIT_TRAINER = "fal-ai/flux-lora-portrait-trainer"
STYLE_TRAINER = "fal-ai/flux-lora-fast-training"
LORA_GENERATOR = "fal-ai/flux-lora"
IMAGEN4_GENERATOR = "fal-ai/imagen4/preview"
IMAGE_GENERATORS = (LORA_GENERATOR, IMAGEN4_GENERATOR)
LORA_SCALE = 1.15

# FLUX LoRA has no aspect_ratio field: each ratio maps to an image_size preset (fal-protocol.md).
IMAGE_SIZES = {
    "1:1": "square_hd", "3:4": "portrait_4_3", "9:16": "portrait_16_9",
    "4:3": "landscape_4_3", "16:9": "landscape_16_9",
}
PRESET_PIXELS = {
    "square_hd": (1024, 1024), "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}

IN_QUEUE, IN_PROGRESS, COMPLETED = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"


@dataclass(frozen=True)
class Submitted:
    request_id: str
    endpoint: str


@dataclass(frozen=True)
class Status:
    status: str  # IN_QUEUE | IN_PROGRESS | COMPLETED
    queue_position: int | None = None
    logs: tuple[str, ...] = ()
    error: str | None = None  # FAL has no FAILED state: a failed request is COMPLETED with an error
    error_type: str | None = None

    @property
    def done(self) -> bool:
        return self.status == COMPLETED

    @property
    def failed(self) -> bool:
        return self.done and bool(self.error or self.error_type)


def app_id(endpoint: str) -> str:
    """``owner/app`` of an endpoint id: a sub-path belongs to the submit URL only."""
    return "/".join(endpoint.strip("/").split("/")[:2])


class FalClient:
    is_dev = False

    def __init__(
        self, *, key: str, queue_url: str, rest_url: str, cdn_url: str, timeout: float = 30.0,
        retries: int = 4, backoff: float = 0.5, max_backoff: float = 8.0,
    ):
        self.key = key
        self.queue_url, self.rest_url, self.cdn_url = (u.rstrip("/") for u in (queue_url, rest_url, cdn_url))
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff

    # --- the queue ------------------------------------------------------------------------------------------
    def submit(self, endpoint: str, arguments: dict, *, webhook_url: str | None = None) -> Submitted:
        url = f"{self.queue_url}/{endpoint.strip('/')}"
        if webhook_url:
            url += "?" + urllib.parse.urlencode({"fal_webhook": webhook_url})
        body = self._json("POST", url, arguments)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise ProviderTransientError("submit answered without a request_id")
        return Submitted(request_id=request_id, endpoint=endpoint)

    def status(self, endpoint: str, request_id: str) -> Status:
        body = self._json("GET", f"{self._request_url(endpoint, request_id)}/status?logs=1")
        status = body.get("status") if isinstance(body, dict) else None
        if status not in (IN_QUEUE, IN_PROGRESS, COMPLETED):
            raise ProviderTransientError(f"unexpected status answer: {str(body)[:200]}")
        logs = tuple(str(item.get("message", "")) for item in (body.get("logs") or []) if isinstance(item, dict))
        position = body.get("queue_position")
        error, error_type = body.get("error"), body.get("error_type")
        return Status(status=status, queue_position=position if isinstance(position, int) else None, logs=logs,
                      error=_redact(str(error), (self.key,))[:500] if error else None,
                      error_type=str(error_type)[:100] if error_type else None)

    def result(self, endpoint: str, request_id: str) -> dict:
        body = self._json("GET", self._request_url(endpoint, request_id))
        if not isinstance(body, dict):
            raise ProviderRejected("the result is not a JSON object")
        return body

    def cancel(self, endpoint: str, request_id: str) -> None:
        try:
            self._json("PUT", f"{self._request_url(endpoint, request_id)}/cancel")
        except ProviderRejected:
            pass  # already completed or unknown: nothing left to cancel

    # --- files ----------------------------------------------------------------------------------------------
    def upload(self, content: bytes, *, content_type: str, file_name: str) -> str:
        """Upload to FAL storage (token, then CDN upload) and return the public URL."""
        token = self._json("POST", f"{self.rest_url}/storage/auth/token?storage_type=fal-cdn-v3", {})
        if not isinstance(token, dict) or not token.get("token"):
            raise ProviderTransientError("storage token answer without a token")
        base = (token.get("base_url") or self.cdn_url).rstrip("/")
        headers = {
            "Authorization": f"{token.get('token_type') or 'Bearer'} {token['token']}",
            "Content-Type": content_type, "X-Fal-File-Name": file_name,
        }
        body = self._json("POST", f"{base}/files/upload", content, headers=headers)
        url = body.get("access_url") if isinstance(body, dict) else None
        if not url:
            raise ProviderTransientError("upload answer without access_url")
        return url

    def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch an output file (FAL keeps them briefly; we copy what we deliver), no more than ``max_bytes``.
        Every URL and redirect hop must pass ``fal_download.DownloadPolicy``; a refusal is final."""
        policy = fal_download.DownloadPolicy.build(
            hosts=settings.FAL_DOWNLOAD_HOSTS, own_urls=(self.queue_url, self.rest_url, self.cdn_url),
            networks=settings.FAL_DOWNLOAD_ALLOWED_NETWORKS,
        )

        def attempt():
            response = fal_download.fetch(url, policy=policy, timeout=self.timeout, max_bytes=max_bytes)
            return response.status, response.body, response.headers

        return self._retrying("GET", url, attempt)[1]

    # --- HTTP -----------------------------------------------------------------------------------------------
    def _request_url(self, endpoint: str, request_id: str) -> str:
        return f"{self.queue_url}/{app_id(endpoint)}/requests/{urllib.parse.quote(request_id, safe='')}"

    def _json(self, method: str, url: str, payload=None, *, headers: dict | None = None):
        status, data, _ = self._send(method, url, payload, headers or {}, authorize=headers is None)
        try:
            return json.loads(data or b"null")
        except ValueError:
            raise ProviderTransientError(f"malformed JSON from {method} {loggable_url(url)}",
                                         status=status) from None

    def _send(self, method: str, url: str, payload, headers: dict, *, authorize: bool) -> tuple[int, bytes, dict]:
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        elif payload is not None:
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            data = None
        if authorize:
            headers = {"Authorization": f"Key {self.key}", **headers}
        headers.setdefault("Accept", "application/json")

        def attempt():
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with _OPENER.open(request, timeout=self.timeout) as response:
                    return response.status, response.read(), response.headers
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read() or b"", exc.headers

        return self._retrying(method, url, attempt)

    def _retrying(self, method: str, url: str, attempt_once) -> tuple[int, bytes, dict]:
        """Run ``attempt_once`` (-> status, body, headers) until a 2xx, a final error, or the retries run out."""
        attempt = 0
        while True:
            attempt += 1
            try:
                status, body, headers = attempt_once()
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
                if attempt > self.retries:
                    raise ProviderTransientError(f"{method} {loggable_url(url)}: {exc}") from None
                delay = self._delay(attempt)
            else:
                if 200 <= status < 300:
                    return status, body, dict(headers)
                error = _http_error(status, body, headers, secrets=(self.key, settings.FAL_WEBHOOK_SECRET))
                if not error.retryable or attempt > self.retries or isinstance(error, ProviderNotReady):
                    raise error
                delay = _retry_after(headers) or self._delay(attempt)
            logger.info("FAL %s %s: retry %d in %.2fs", method, loggable_url(url), attempt, delay)
            time.sleep(delay)

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would repeat the Authorization header (our key) to wherever a redirect points: never follow one."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def loggable_url(url: str) -> str:
    """``url`` without its query, fragment and credentials: what may be logged or stored."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _retry_after(headers) -> float | None:
    try:
        return min(30.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None


def _http_error(status: int, body: bytes, headers, *, secrets=()) -> ProviderError:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    error_type = (parsed.get("error_type") if isinstance(parsed, dict) else None) or headers.get("X-Fal-Error-Type")
    message = _redact(f"HTTP {status}: {json.dumps(detail, ensure_ascii=False)[:500] if detail else body[:200]!r}",
                      secrets)
    if status == 400 and isinstance(detail, str) and "in progress" in detail.lower():
        return ProviderNotReady(message, status=status)
    if _retryable(status, headers, error_type):
        return ProviderTransientError(message, status=status, error_type=error_type)
    return ProviderRejected(message, status=status, error_type=error_type)


def _retryable(status: int, headers, error_type: str | None) -> bool:
    """What FAL (or the way to it) says may pass later: an explicit ``X-Fal-Retryable: true``, a timeout, a
    conflict, rate limiting, or a 5xx that is not FAL's own answer (a proxy or gateway: no ``X-Fal-Error-Type``).
    FAL's own error answers (422 validation or content policy, a 500 app error with an error type) are final."""
    flag = str(headers.get("X-Fal-Retryable") or "").lower()
    if flag in ("true", "false"):
        return flag == "true"
    if status in (408, 409, 429):
        return True
    return status >= 500 and not error_type


def _redact(text: str, secrets) -> str:
    """An error body is FAL's text, kept in rows: should it ever echo our key (or one half of an ``id:secret``
    key) or the webhook secret, they are blanked."""
    for secret in secrets:
        for part in (secret or "", *(secret or "").split(":")):
            if len(part) >= 8:
                text = text.replace(part, "***")
    return text


class LocalDevBackend:
    """DEVELOPMENT ONLY: pretends to be FAL so the whole flow works offline. Every job completes at once;
    generations are Pillow-rendered placeholder images labelled as such. Never used without ``DEBUG``."""

    is_dev = True
    SCHEME = "dev-placeholder://"

    def submit(self, endpoint: str, arguments: dict, *, webhook_url: str | None = None) -> Submitted:
        size = arguments.get("image_size") or IMAGE_SIZES.get(arguments.get("aspect_ratio"), "square_hd")
        width, height = PRESET_PIXELS.get(size, (1024, 1024)) if isinstance(size, str) else (512, 512)
        request = {"endpoint": endpoint, "n": int(arguments.get("num_images") or 1), "w": width // 2, "h": height // 2}
        return Submitted(request_id=f"dev-{uuid.uuid4().hex}:{json.dumps(request)}", endpoint=endpoint)

    def status(self, endpoint: str, request_id: str) -> Status:
        return Status(status=COMPLETED)

    def result(self, endpoint: str, request_id: str) -> dict:
        job = json.loads(request_id.split(":", 1)[1]) if ":" in request_id else {"n": 1, "w": 512, "h": 512}
        if endpoint in IMAGE_GENERATORS:
            images = [{"url": f"{self.SCHEME}{job['w']}x{job['h']}/{i + 1}", "width": job["w"], "height": job["h"],
                       "content_type": "image/png"} for i in range(job["n"])]
            return {"images": images, "has_nsfw_concepts": [False] * job["n"], "seed": 0}
        return {"diffusers_lora_file": {"url": f"{self.SCHEME}lora/{request_id[:40]}.safetensors"},
                "config_file": {"url": f"{self.SCHEME}lora/config.json"}}

    def cancel(self, endpoint: str, request_id: str) -> None:
        return None

    def upload(self, content: bytes, *, content_type: str, file_name: str) -> str:
        return f"{self.SCHEME}upload/{file_name}"

    def download(self, url: str, **kwargs) -> bytes:
        size, _, number = url.removeprefix(self.SCHEME).partition("/")
        width, height = (int(v) for v in size.split("x")) if "x" in size else (512, 512)
        image = Image.new("RGB", (width, height), (70 + 40 * (int(number or 1) % 4), 90, 140))
        draw = ImageDraw.Draw(image)
        draw.text((16, 16), f"DEV PLACEHOLDER #{number}\nno FAL_KEY: not a real generation", fill=(255, 255, 255))
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()


def provider_get() -> FalClient | LocalDevBackend:
    """The configured provider: FAL with a key; the dev placeholder backend only with ``DEBUG``; else refuse."""
    if settings.FAL_KEY:
        return FalClient(
            key=settings.FAL_KEY, queue_url=settings.FAL_QUEUE_URL, rest_url=settings.FAL_REST_URL,
            cdn_url=settings.FAL_CDN_URL, timeout=settings.FAL_TIMEOUT, retries=settings.FAL_RETRIES,
            backoff=settings.FAL_RETRY_BACKOFF,
        )
    if settings.DEBUG:
        log_once(logger, logging.WARNING, "FAL_KEY",
                 "FAL_KEY is not set: using the LOCAL DEVELOPMENT backend (placeholder images, no training).")
        return LocalDevBackend()
    raise ProviderUnavailable("FAL_KEY is not set and DEBUG is off: image generation is not configured.")
