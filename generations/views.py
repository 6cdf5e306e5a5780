"""The FAL webhook: FAL POSTs ``{request_id, status: OK|ERROR, payload}`` when a job ends. The secret is part
of the path; the handling is the same idempotent service the poller uses, so late or repeated deliveries and
races with polling change nothing twice."""

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from generations import services
from generations.exceptions import GenerationsError

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def fal_webhook(request, secret: str):
    expected = settings.FAL_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        return HttpResponseNotFound()
    try:
        body = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("malformed JSON")
    try:
        outcome = services.provider_webhook_handle(body=body)
    except GenerationsError as exc:
        return HttpResponseBadRequest(str(exc))
    logger.info("FAL webhook %s: %s", body.get("request_id"), outcome)
    return JsonResponse({"ok": True, "outcome": outcome})


