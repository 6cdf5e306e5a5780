"""Telegram messages sent from background tasks (training finished, images ready, refunds): their texts, in the
recipient's language, and the Bot API calls.

Tasks run in the worker, not in the bot: they must not import ``botworker`` (arrows point botworker ->
generations), so they make the few Bot API calls through the plain HTTP client ``accounts.telegram``. Buttons carry callback data in the bot's packed format, taken from ``CALLBACKS``
(a test pins them to the bot's CallbackData classes).
"""

from __future__ import annotations

import html
import json
import logging

from django.utils import translation
from django.utils.translation import gettext as _

from accounts import telegram
from accounts.languages import language_for
from generations.models import FailureReason

logger = logging.getLogger(__name__)

# Packed callback data of the bot's buttons that notifications show (pinned by tests/generations).
CALLBACKS = {
    "avatar_list": "menu:avatars",
    "generate": "menu:generate",
    "gallery": "menu:gallery",
    "top_up": "balance_top_up",
}


class DeliveryFailed(Exception):
    """Telegram did not take the message; ``permanent`` when retrying cannot help (blocked, chat gone)."""

    def __init__(self, message: str, *, permanent: bool = False):
        self.permanent = permanent
        super().__init__(message)


def _failure_text(failure_reason: str | None, *, training: bool) -> str:
    """Why it failed, in a sentence the user can act on (the reason class of the provider's answer)."""
    if failure_reason == FailureReason.CONTENT_POLICY:
        return _("Причина: запрос нарушает правила содержания провайдера. Попробуйте изменить описание.")
    if failure_reason == FailureReason.BAD_INPUT:
        return (_("Причина: провайдер не смог использовать фотографии. Загрузите другие, чёткие фото.") if training
                else _("Причина: провайдер отклонил параметры запроса."))
    if failure_reason == FailureReason.TIMEOUT:
        return _("Причина: провайдер не успел выполнить задачу.")
    return _("Причина: ошибка на стороне провайдера. Попробуйте позже.")


def training_notice_send(*, chat_id: int, language_code: str | None, name: str, ready: bool,
                         failure_reason: str | None = None) -> None:
    """The end of a training: ready, or failed (why, and that the coins are back). ``DeliveryFailed``."""
    name = html.escape(name)  # the text is HTML: "<3 Anna" must not make Telegram refuse it
    # The recipient reads the notice in their own language (the worker has no request to take it from).
    with translation.override(language_for(language_code)):
        if ready:
            text = _("🎉 Ваш аватар «%(name)s» готов! Теперь можно создавать изображения.") % {"name": name}
            markup = keyboard([(_("🎨 Создать изображение"), "generate")], [(_("🎭 Мои аватары"), "avatar_list")])
        else:
            text = _("😔 Не удалось обучить аватар «%(name)s». Монеты за обучение возвращены на баланс.") % {
                "name": name}
            text += "\n" + _failure_text(failure_reason, training=True)
            markup = keyboard([(_("🎭 Мои аватары"), "avatar_list")])
    send_message(chat_id=chat_id, text=text, reply_markup=markup)


def generation_album_send(*, chat_id: int, language_code: str | None, images: list[tuple[str, bytes]],
                          label: str = "") -> None:
    """The images as albums (``label`` names a model other than the avatar's), then (a follow-up that may be lost) where to find them. ``DeliveryFailed`` when
    the first album was not accepted."""
    with translation.override(language_for(language_code)):
        caption = _("✨ Изображения готовы!") + (f" {html.escape(label)}" if label else "")
        send_albums(chat_id=chat_id, images=images, caption=caption)
        followup = {"text": _("Изображения сохранены в галерее."),
                    "reply_markup": keyboard([(_("🎨 Ещё"), "generate"), (_("🖼 Галерея"), "gallery")])}
    try:
        send_message(chat_id=chat_id, **followup)
    except DeliveryFailed as exc:  # losing it must not re-send the album
        logger.info("follow-up message not delivered: %s", exc)


def generation_failure_send(*, chat_id: int, language_code: str | None, failure_reason: str | None) -> None:
    """A generation failed: why, and that the coins are back. ``DeliveryFailed``."""
    with translation.override(language_for(language_code)):
        text = _("😔 Не удалось создать изображение. 💰 Ваш баланс восстановлен.") + "\n" + _failure_text(
            failure_reason, training=False)
        markup = keyboard([(_("🎨 Попробовать снова"), "generate")])
    send_message(chat_id=chat_id, text=text, reply_markup=markup)


def keyboard(*rows: list[tuple[str, str]]) -> dict:
    return {"inline_keyboard": [[{"text": text, "callback_data": CALLBACKS[key]} for text, key in row]
                                for row in rows]}


def send_message(*, chat_id: int, text: str, reply_markup: dict | None = None) -> dict:
    payload = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if reply_markup:
        payload["reply_markup"] = reply_markup
    return _call("sendMessage", params=payload)


# sendMediaGroup takes 2-10 photos; a larger set goes as several albums (a lone last photo as sendPhoto).
ALBUM_MAX = 10


def send_albums(*, chat_id: int, images: list[tuple[str, bytes]], caption: str = "") -> None:
    """Any number of photos as albums of at most ``ALBUM_MAX``, the caption on the first. ``DeliveryFailed`` only
    when the first album failed: once it is out, a later failure is only logged, so that a retry of the delivery
    cannot send the first album twice (the gallery has every image)."""
    for index, start in enumerate(range(0, len(images), ALBUM_MAX)):
        try:
            send_album(chat_id=chat_id, images=images[start:start + ALBUM_MAX], caption=caption if index == 0 else "")
        except DeliveryFailed as exc:
            if index == 0:
                raise
            logger.warning("album part %d for chat %s not delivered: %s", index + 1, chat_id, exc)
            return


def send_album(*, chat_id: int, images: list[tuple[str, bytes]], caption: str = "") -> dict:
    """One photo album of at most ``ALBUM_MAX`` (sendMediaGroup; a single photo goes as sendPhoto) uploaded as
    multipart files."""
    fields: dict[str, str] = {"chat_id": str(chat_id)}
    files = {f"photo{i}": (name, content) for i, (name, content) in enumerate(images)}
    if len(images) == 1:
        fields.update({"photo": "attach://photo0", "caption": caption, "parse_mode": "HTML"})
        method = "sendPhoto"
    else:
        media = [{"type": "photo", "media": f"attach://photo{i}"} for i in range(len(images))]
        if caption:
            media[0].update({"caption": caption, "parse_mode": "HTML"})
        fields["media"] = json.dumps(media)
        method = "sendMediaGroup"
    return _call(method, params=fields, files=files)


def _call(method: str, **request) -> dict:
    try:
        return telegram.call(method, timeout=60, **request)
    except telegram.BotAPIError as error:
        # 400/403 mean the chat cannot get it (blocked, deleted, bad request), and without a token nothing
        # can be sent: retrying will not help. Anything else (unreachable, 429, 5xx) may pass later.
        permanent = not error.configured or error.error_code in (400, 403)
        detail = f"HTTP {error.error_code} {error.description}" if error.error_code else error.description
        raise DeliveryFailed(f"{method}: {detail}", permanent=permanent) from None
