"""Which interface language a Telegram user gets.

Telegram sends an IETF tag (``en``, ``en-US``, ``ru``, ``uk``...). A user gets the configured language whose
primary subtag matches (English for ``en*``); everyone else gets ``settings.LANGUAGE_CODE`` (Russian), since the
msgids themselves are Russian.
"""

from django.conf import settings


def language_for(language_code: str | None) -> str:
    primary = (language_code or "").replace("_", "-").split("-")[0].lower()
    if primary and primary in dict(settings.LANGUAGES):
        return primary
    return settings.LANGUAGE_CODE
