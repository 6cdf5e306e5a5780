"""Where FAL POSTs when a job ends, and the path token that filters those calls."""

import hashlib
import hmac

from django.conf import settings


def webhook_url() -> str:
    """Where FAL POSTs when a job ends ("" when webhooks are off). The path carries a token derived from
    ``FAL_WEBHOOK_SECRET``, never the secret: this URL sits in FAL's submit query, access logs and rows."""
    if not (settings.FAL_WEBHOOK_BASE_URL and settings.FAL_WEBHOOK_SECRET):
        return ""
    return f"{settings.FAL_WEBHOOK_BASE_URL.rstrip('/')}/fal/webhook/{webhook_path_token()}/"


def webhook_path_token(secret: str | None = None) -> str:
    secret = settings.FAL_WEBHOOK_SECRET if secret is None else secret
    return hashlib.sha256(f"aisha-fal-webhook-path:{secret}".encode()).hexdigest()[:32]


def webhook_path_token_valid(*, token: str) -> bool:
    """The cheap first filter: a wrong path is refused before any signature work or JWKS fetch."""
    return bool(settings.FAL_WEBHOOK_SECRET) and hmac.compare_digest(token.encode(), webhook_path_token().encode())
