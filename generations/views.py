"""The FAL webhook: FAL POSTs ``{request_id, status: OK|ERROR, payload}`` when a job ends.

The path carries a token derived from ``FAL_WEBHOOK_SECRET`` (a cheap filter: anything else is a 404 before any
work); what authenticates a delivery is FAL's Ed25519 signature, verified with FAL's published keys before the
body is read. Handling is the same idempotent service the poller uses, so late or repeated deliveries and races
with polling change nothing twice.
"""

import logging

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generations import services
from generations.exceptions import GenerationsError, ProviderError, WebhookSignatureInvalid

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def fal_webhook(request, token: str):
    if not services.webhook_path_token_valid(token=token):
        return HttpResponseNotFound()
    try:
        outcome = services.provider_webhook_receive(body=request.body, headers=request.headers)
    except WebhookSignatureInvalid as exc:
        logger.warning("FAL webhook refused: %s", exc)
        return HttpResponse("invalid signature", status=401, content_type="text/plain")
    except ProviderError as exc:
        if exc.retryable:  # FAL's keys or a result file unreachable for now: FAL re-sends later
            return HttpResponse("try again later", status=503, content_type="text/plain")
        return HttpResponseBadRequest(str(exc))
    except GenerationsError as exc:
        return HttpResponseBadRequest(str(exc))
    return JsonResponse({"ok": True, "outcome": outcome})
