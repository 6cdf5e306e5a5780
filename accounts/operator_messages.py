"""An operator's message to one user, sent through the bot by a task (``accounts.tasks``) over the plain Bot API
client ``accounts.telegram``. The text goes as plain text: what the operator typed is what the user reads."""

import logging

from accounts import telegram
from accounts.exceptions import MessageNotDelivered

logger = logging.getLogger(__name__)


def operator_message_deliver(*, telegram_id: int, text: str) -> int:
    """Send ``text`` to the chat; returns Telegram's message id. A refusal is logged and raised, so that the task
    fails and its result (Background tasks) shows Telegram's reason."""
    try:
        message = telegram.call("sendMessage", params={"chat_id": telegram_id, "text": text})
    except telegram.BotAPIError as error:
        detail = f"HTTP {error.error_code} {error.description}" if error.error_code else error.description
        logger.error("operator message to %s not delivered: %s", telegram_id, detail)
        raise MessageNotDelivered(f"Telegram did not deliver the message to {telegram_id}: {detail}") from None
    return message["message_id"]
