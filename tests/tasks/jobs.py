"""Small idempotent tasks for the worker tests: each effect is keyed on a BroadcastRecipient row, as real delivery is.

They talk HTTP to the tests' fake Bot API (settings.BOT_API_URL) through the project's plain client
(accounts.telegram), so a worker subprocess needs nothing but the database and that URL.
"""

import time

from django.db.models import F
from django.utils import timezone
from django_tasks import task

from accounts import telegram
from broadcasts.models import Broadcast, BroadcastRecipient, RecipientStatus


def _send_message(chat_id: int, text: str) -> int:
    return telegram.call("sendMessage", params={"chat_id": chat_id, "text": text}, timeout=10)["message_id"]


def _deliver(recipient: BroadcastRecipient, text: str) -> None:
    message_id = _send_message(recipient.telegram_id, text)
    BroadcastRecipient.objects.filter(id=recipient.id).update(
        status=RecipientStatus.SENT, message_id=message_id, sent_at=timezone.now())


@task()
def deliver_batch(broadcast_id: int, recipient_ids: list[int]) -> int:
    """Send the broadcast to each pending recipient of the batch; a row claimed once is never sent again."""
    text = Broadcast.objects.values_list("text", flat=True).get(id=broadcast_id)
    sent = 0
    for recipient in BroadcastRecipient.objects.filter(id__in=recipient_ids).order_by("id"):
        claimed = BroadcastRecipient.objects.filter(id=recipient.id, status=RecipientStatus.PENDING).update(
            status=RecipientStatus.SENDING, attempts=F("attempts") + 1)
        if claimed:
            _deliver(recipient, text)
            sent += 1
    return sent


@task()
def finish_slowly(recipient_id: int, hold_first_attempt: bool = True) -> str:
    """A job with a long step before its effect: the test kills the first worker inside that step."""
    recipient = BroadcastRecipient.objects.get(id=recipient_id)
    if recipient.status == RecipientStatus.SENT:
        return "already done"
    BroadcastRecipient.objects.filter(id=recipient_id).update(
        status=RecipientStatus.SENDING, attempts=F("attempts") + 1)
    recipient.refresh_from_db()
    if hold_first_attempt and recipient.attempts == 1:
        time.sleep(120)  # a slow provider call; the worker is SIGKILLed here
    _deliver(recipient, "готово")
    return "done"
