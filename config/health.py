"""``GET /healthz``: 200 when this web process can reach the database, 503 otherwise (for load balancers and
systemd/orchestrator health checks). Reveals nothing else."""

import logging

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError as error:
        logger.warning("health check: the database does not answer: %s", error)
        return False


async def healthz(request: HttpRequest) -> HttpResponse:
    if await sync_to_async(_database_answers)():
        return HttpResponse("ok\n", content_type="text/plain")
    return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
