"""Reads of the Telegram users."""

from django.db.models import Q, QuerySet

from accounts.exceptions import UserNotFound
from accounts.models import User


def user_get_by_telegram_id(*, telegram_id: int) -> User:
    try:
        return User.objects.get(telegram_id=int(telegram_id))
    except (User.DoesNotExist, ValueError, TypeError):
        raise UserNotFound(f"No user with Telegram id {telegram_id}.") from None


def user_find(*, query: str) -> User:
    """Find one user by Telegram id, or by ``@username``/``username`` (case-insensitive)."""
    query = (query or "").strip()
    if query.lstrip("-").isdigit():
        return user_get_by_telegram_id(telegram_id=int(query))
    username = query.lstrip("@")
    user = User.objects.filter(username__iexact=username).first() if username else None
    if user is None:
        raise UserNotFound(f"No user with Telegram id or username {query!r}.")
    return user


def user_search(*, text: str) -> QuerySet[User]:
    """Users whose username or name contains ``text`` (or whose Telegram id is ``text``)."""
    text = (text or "").strip().lstrip("@")
    condition = Q(username__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
    if text.isdigit():
        condition |= Q(telegram_id=int(text))
    return User.objects.filter(condition)
