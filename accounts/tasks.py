"""Background tasks of the accounts app (django-tasks)."""

from django_tasks import task

from accounts.operator_messages import operator_message_deliver


@task()
def user_message_deliver(*, telegram_id: int, text: str) -> int:
    """One operator's message to one user; fails with Telegram's reason when it is not delivered."""
    return operator_message_deliver(telegram_id=telegram_id, text=text)
