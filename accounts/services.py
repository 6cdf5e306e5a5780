"""Writes to the Telegram users."""

from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import tasks
from accounts.exceptions import BotNotConfigured
from accounts.models import User, UserActivity

# Refreshing ``last_activity_at`` on every update would be one write per update; once a minute is plenty (and at
# the first update of each day, which also records the day: see ``_activity_day_record``).
ACTIVITY_RESOLUTION = timedelta(minutes=1)

_PROFILE_FIELDS = ("first_name", "last_name", "username", "language_code", "is_premium", "is_bot")


def user_upsert_from_telegram(
    *,
    telegram_id: int,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    is_premium: bool | None = None,
    is_bot: bool | None = None,
    related: Sequence[str] = (),
) -> User:
    """Create or update the user from Telegram's ``User`` object.

    ``related``: one-to-one relations read in the same query (``select_related``), so the caller has them without
    another round trip; on a user created here they are known not to exist (accessing one raises its
    ``DoesNotExist``, as after a ``select_related`` that found no row). A known user whose profile is unchanged
    costs one SELECT; the row is written only when something changed (``last_activity_at`` at most once a minute).

    A missing or null ``is_premium`` (or ``is_bot``) becomes False for a new user; on update a null field from
    Telegram never overwrites what is stored. Two updates for a new user at once are safe: the loser of the
    insert race updates the winner's row instead of raising ``IntegrityError``.
    """
    telegram_id = int(telegram_id)
    incoming = {
        "first_name": (first_name or "")[:64] if first_name is not None else None,
        "last_name": last_name[:64] if last_name is not None else None,
        "username": username[:64] if username is not None else None,
        "language_code": language_code[:8] if language_code is not None else None,
        "is_premium": is_premium,
        "is_bot": is_bot,
    }
    now = timezone.now()
    users = User.objects.select_related(*related) if related else User.objects
    user = users.filter(telegram_id=telegram_id).first()
    if user is None:
        defaults = {
            "first_name": incoming["first_name"] or "",
            "last_name": incoming["last_name"],
            "username": incoming["username"],
            "language_code": incoming["language_code"] or "ru",
            "is_premium": bool(incoming["is_premium"]),
            "is_bot": bool(incoming["is_bot"]),
            "last_activity_at": now,
        }
        try:
            user = _create(telegram_id=telegram_id, **defaults)
        except IntegrityError:
            user = users.get(telegram_id=telegram_id)
        else:
            for name in related:
                user._state.fields_cache[name] = None  # a new row: nothing refers to it yet
            _activity_day_record(user=user, day=timezone.localdate(now))
            return user

    changed = [
        name for name in _PROFILE_FIELDS if incoming[name] is not None and getattr(user, name) != incoming[name]
    ]
    for name in changed:
        setattr(user, name, incoming[name])
    new_day = user.last_activity_at is None or timezone.localdate(user.last_activity_at) != timezone.localdate(now)
    if new_day or now - user.last_activity_at >= ACTIVITY_RESOLUTION:
        user.last_activity_at = now
        changed.append("last_activity_at")
    if user.bot_blocked_at is not None:
        # The user is talking to the bot again, so they no longer block it.
        user.bot_blocked_at = None
        changed.append("bot_blocked_at")
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    if new_day:
        _activity_day_record(user=user, day=timezone.localdate(now))
    return user


def _activity_day_record(*, user: User, day) -> None:
    """Record that ``user`` was active on ``day``. Called only when ``last_activity_at`` moves to a new day, so
    a user costs one such insert a day; a concurrent update recording the same day is ignored, not an error."""
    UserActivity.objects.bulk_create([UserActivity(user=user, day=day)], ignore_conflicts=True)


def _create(**fields) -> User:
    """INSERT the user. In autocommit the statement is its own transaction (a failed INSERT leaves nothing to roll
    back), so a transaction (BEGIN and COMMIT: two more round trips) is needed only inside an outer one."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return User.objects.create(**fields)
    return User.objects.create(**fields)


def user_set_blocked(*, user: User, blocked: bool) -> User:
    """Block or unblock a user (an operator's decision)."""
    if user.is_blocked != blocked:
        user.is_blocked = blocked
        user.save(update_fields=["is_blocked", "updated_at"])
    return user


def user_mark_bot_blocked(*, telegram_id: int) -> None:
    """Record that Telegram refused to deliver to this user because they blocked the bot."""
    User.objects.filter(telegram_id=telegram_id, bot_blocked_at__isnull=True).update(bot_blocked_at=timezone.now())


def user_message_send(*, user: User, text: str) -> None:
    """Queue one message from an operator to the user, sent through the bot by a task once the caller's
    transaction commits. Refused at once (``BotNotConfigured``) when the bot has no token."""
    if not settings.BOT_TOKEN:
        raise BotNotConfigured(_("BOT_TOKEN is not set: the bot cannot send messages."))
    transaction.on_commit(partial(tasks.user_message_deliver.enqueue, telegram_id=user.telegram_id, text=text))
