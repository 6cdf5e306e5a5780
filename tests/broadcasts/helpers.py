"""Small helpers shared by the broadcast tests."""

from collections import Counter

from broadcasts.models import Broadcast, BroadcastRecipient, RecipientStatus

DELIVERY_TASK = "broadcasts.tasks.broadcast_deliver"


def new_broadcast(**fields) -> Broadcast:
    fields.setdefault("title", "News")
    fields.setdefault("text", "<b>Новое</b> в боте")
    return Broadcast.objects.create(**fields)


def deliveries_per_chat(api) -> Counter:
    """How many times each chat got the message (answered 200 by Telegram)."""
    return Counter(int(c.data["chat_id"]) for c in api.calls_of("sendMessage") if c.status == 200)


def recipient_statuses(broadcast) -> Counter:
    return Counter(BroadcastRecipient.objects.filter(broadcast=broadcast).values_list("status", flat=True))


def sent_moments(broadcast) -> list:
    """When the limiter let each delivered message go (``sent_at``), in order. The rate tests count these rather
    than arrivals at the fake server: a busy test process receives requests in bunches, but these moments are
    where the schedule put the sends, so they hold the rate on any machine."""
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast, status=RecipientStatus.SENT)
    return sorted(rows.values_list("sent_at", flat=True))


def queued_links(broadcast) -> list:
    """The delivery links of a broadcast waiting or running in the database queue."""
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(
        task_path=DELIVERY_TASK, status__in=["READY", "RUNNING"],
        args_kwargs__kwargs__broadcast_id=broadcast.pk))


def run_one_task() -> None:
    """What a db_worker does with the next ready task (in this test's transaction: the command would close it)."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=1, worker_id="test-worker", excluded_queue_names=[])
    row = DBTaskResult.objects.ready().order_by("enqueued_at").first()
    row.claim(worker.worker_id)
    worker.run_task(row)
