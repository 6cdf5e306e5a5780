"""An operator's re-run of a failed update (``failed_update_handle_again``). Broadcast delivery has its tasks in
``broadcasts.tasks``."""

from __future__ import annotations

import asyncio

from django_tasks import task

from botworker import failed_updates
from botworker.dispatcher import handle_update_once
from botworker.models import FailedUpdateResolution


@task()
def failed_update_handle_again(failed_update_id: int, requested_by: str) -> str:
    """Run a failed update through the dispatcher once more (its effects are keyed: a payment credits once): resolved
    when it goes through, its error and attempts updated on the row when it fails again."""
    row = failed_updates.failed_update_get(failed_update_id=failed_update_id)
    if row.resolved_at is not None:
        return "already resolved"
    try:
        asyncio.run(handle_update_once(row.payload))
    except Exception as error:  # noqa: BLE001 - the cause is still there: the operator sees it on the row
        failed_updates.failed_update_record(
            update_id=row.update_id, payload=row.payload, update_type=row.update_type,
            telegram_user_id=row.telegram_user_id, error=error, attempts=1)
        return f"failed again: {failed_updates.error_name(error)}"
    failed_updates.failed_update_resolve(failed_update_id=failed_update_id, resolved_by=requested_by,
                                         resolution=FailedUpdateResolution.HANDLED)
    return "handled"
