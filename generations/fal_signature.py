"""FAL's webhook signature (part of the FAL client, split from ``generations.fal`` for size).

FAL signs each webhook with Ed25519 over ``request_id\\nuser_id\\ntimestamp\\nhex(sha256(raw body))``, sending the
parts in ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` (unix seconds) and ``-Signature`` (hex). Its
public keys are published as a JWKS at ``FAL_JWKS_URL``. The keys are cached per process for a day; a signature
that no cached key verifies makes one early refetch (FAL rotated its key), at most once a minute per URL, so forged
requests cannot make us hammer FAL. A timestamp more than five minutes away from our clock is refused: a captured
webhook cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from generations.exceptions import ProviderTransientError, WebhookSignatureInvalid

logger = logging.getLogger(__name__)

REQUEST_ID, USER_ID, TIMESTAMP, SIGNATURE = (
    "X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id", "X-Fal-Webhook-Timestamp", "X-Fal-Webhook-Signature",
)
MAX_CLOCK_SKEW = 5 * 60
KEYS_TTL = 24 * 3600
REFETCH_MIN_INTERVAL = 60
JWKS_MAX_BYTES = 64 * 1024


def signed_message(*, request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join((request_id, user_id, timestamp, hashlib.sha256(body).hexdigest())).encode()


def signature_verify(*, headers, body: bytes, jwks_url: str, timeout: float = 10.0) -> None:
    """Raise ``WebhookSignatureInvalid`` unless a key of FAL's JWKS signed this request recently;
    ``ProviderTransientError`` when the keys cannot be had at all (the webhook is then answered 503 and FAL
    re-sends it later)."""
    parts = {name: (headers.get(name) or "").strip() for name in (REQUEST_ID, USER_ID, TIMESTAMP, SIGNATURE)}
    missing = [name for name, value in parts.items() if not value]
    if missing:
        raise WebhookSignatureInvalid(f"missing {', '.join(missing)}")
    try:
        timestamp = int(parts[TIMESTAMP])
    except ValueError:
        raise WebhookSignatureInvalid("malformed timestamp") from None
    if abs(time.time() - timestamp) > MAX_CLOCK_SKEW:
        raise WebhookSignatureInvalid("timestamp too far from now")
    try:
        signature = bytes.fromhex(parts[SIGNATURE])
    except ValueError:
        raise WebhookSignatureInvalid("malformed signature") from None
    message = signed_message(request_id=parts[REQUEST_ID], user_id=parts[USER_ID], timestamp=parts[TIMESTAMP],
                             body=body)
    keys = _cache.keys(jwks_url, timeout=timeout)
    if _verifies(keys, signature, message):
        return
    fresh = _cache.refetch(jwks_url, timeout=timeout)  # the same keys when refetched within the last minute
    if fresh is keys or not _verifies(fresh, signature, message):
        raise WebhookSignatureInvalid("signature does not verify")


def jwks_cache_clear() -> None:
    """Forget every cached key set (tests start each fake FAL with a fresh key)."""
    _cache.clear()


def _verifies(keys: tuple[Ed25519PublicKey, ...], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return True
    return False


@dataclass
class _Entry:
    keys: tuple[Ed25519PublicKey, ...] = ()
    fetched_at: float = float("-inf")
    refetched_at: float = float("-inf")


@dataclass
class _KeyCache:
    entries: dict[str, _Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, url: str, *, timeout: float) -> tuple[Ed25519PublicKey, ...]:
        with self.lock:
            entry = self.entries.setdefault(url, _Entry())
            if time.monotonic() - entry.fetched_at >= KEYS_TTL or not entry.keys:
                try:
                    entry.keys, entry.fetched_at = _fetch(url, timeout=timeout), time.monotonic()
                except ProviderTransientError:
                    if not entry.keys:
                        raise
                    # Keep the keys we have and try again in a minute, not on every webhook.
                    entry.fetched_at = time.monotonic() - KEYS_TTL + REFETCH_MIN_INTERVAL
                    logger.warning("FAL JWKS refresh failed; keeping the cached keys for now")
            return entry.keys

    def refetch(self, url: str, *, timeout: float) -> tuple[Ed25519PublicKey, ...]:
        with self.lock:
            entry = self.entries.setdefault(url, _Entry())
            now = time.monotonic()
            if now - entry.refetched_at < REFETCH_MIN_INTERVAL:
                return entry.keys  # perhaps refetched by another request meanwhile
            entry.refetched_at = now
            entry.keys, entry.fetched_at = _fetch(url, timeout=timeout), now
            return entry.keys

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_cache = _KeyCache()


def _fetch(url: str, *, timeout: float) -> tuple[Ed25519PublicKey, ...]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            document = json.loads(response.read(JWKS_MAX_BYTES))  # a larger one fails to parse
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ProviderTransientError(f"FAL JWKS unavailable: {type(exc).__name__}") from None
    keys = tuple(key for key in map(_public_key, _jwk_list(document)) if key is not None)
    if not keys:
        raise ProviderTransientError("FAL JWKS has no Ed25519 key")
    return keys


def _jwk_list(document) -> list:
    keys = document.get("keys") if isinstance(document, dict) else None
    return [key for key in keys if isinstance(key, dict)] if isinstance(keys, list) else []


def _public_key(jwk: dict) -> Ed25519PublicKey | None:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        return None
    try:
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return None
