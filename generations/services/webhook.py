"""FAL's webhook: verified, then applied with the same idempotent job steps the poller uses."""

from __future__ import annotations

import json
import logging
import re

from django.conf import settings

from generations import fal_signature
from generations.exceptions import InvalidInput
from generations.models import Avatar, ImageGeneration
import generations.services.jobs as jobs
from generations.services.generation import GENERATION
from generations.services.training import TRAINING

logger = logging.getLogger(__name__)


def provider_webhook_receive(*, body: bytes, headers) -> str:
    """A webhook as it arrived: FAL's signature over the raw body is verified (``WebhookSignatureInvalid``,
    or ``ProviderTransientError`` when FAL's keys cannot be fetched) before anything is read from it."""
    fal_signature.signature_verify(headers=headers, body=body, jwks_url=settings.FAL_JWKS_URL,
                                   timeout=min(settings.FAL_TIMEOUT, 10.0))
    try:
        parsed = json.loads(body)
    except ValueError:
        raise InvalidInput("malformed JSON") from None
    outcome = provider_webhook_handle(body=parsed)
    logger.info("FAL webhook %s: %s", parsed.get("request_id") if isinstance(parsed, dict) else None, outcome)
    return outcome


def _failure_class(body: dict) -> str:
    """The reason class of a failed request's webhook: the HTTP status in ``error`` ("Invalid status code: 422")
    and the error types in the payload's ``detail``."""
    error = str(body.get("error") or "")
    code = re.search(r"\b([45]\d\d)\b", error)
    payload = body.get("payload")
    detail = payload.get("detail") if isinstance(payload, dict) else None
    types = [item.get("type") for item in detail if isinstance(item, dict)] if isinstance(detail, list) else []
    if isinstance(payload, dict) and payload.get("error_type"):
        types.append(payload["error_type"])
    return jobs.failure_class(status=int(code.group(1)) if code else None,
                              error_type=",".join(str(t) for t in types if t))


def provider_webhook_handle(*, body: dict) -> str:
    """Apply a FAL webhook ({request_id, status OK|ERROR, payload}); idempotent with polling. Returns what
    happened: ``completed``, ``failed``, ``duplicate`` or ``unknown``."""
    request_id = body.get("request_id") if isinstance(body, dict) else None
    if not isinstance(request_id, str) or not request_id:
        raise InvalidInput("request_id")
    ok = body.get("status") == "OK"
    payload = body.get("payload")
    reason = str(body.get("error") or body.get("payload_error") or payload)[:1000]
    if (avatar := Avatar.objects.filter(fal_request_id=request_id).first()) is not None:
        spec, job_id = TRAINING, avatar.pk
    elif (generation := ImageGeneration.objects.filter(provider_request_id=request_id).first()) is not None:
        spec, job_id = GENERATION, generation.pk
    else:
        return "unknown"
    if ok and payload is not None:
        done = jobs.job_complete(spec, job_id=job_id, request_id=request_id, output=payload)
    else:
        done = jobs.job_fail(spec, job_id=job_id, reason=reason, request_id=request_id,
                             failure_reason=_failure_class(body))
    if not done:
        return "duplicate"
    return "completed" if ok and payload is not None else "failed"
