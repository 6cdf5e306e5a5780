"""The descriptions our services write on ledger entries, and how the back office shows them.

An entry's ``description`` is stored in English, made from one of the templates below (CSV exports and older
tools read it as it is). The admin shows it in the operator's language: ``description_display`` recognises the
template a stored text was made from and renders the template's translation with the same values, so entries
written before this module existed are shown translated too. Anything else (an operator's reason, a text of the
earlier service) is shown as it was typed.
"""

import re

from django.utils.translation import gettext, gettext_noop

PROMO_BONUS_REVERSAL = gettext_noop("%(description)s: its promo code bonus")
AVATAR_TRAINING = gettext_noop("Avatar training: %(name)s")
AVATAR_TRAINING_REFUND = gettext_noop("Refund: avatar training failed (%(name)s)")
IMAGE_GENERATION = gettext_noop("Image generation ×%(count)s")
IMAGE_GENERATION_REFUND = gettext_noop("Refund: image generation failed")
STARS_TOPUP = gettext_noop("Telegram Stars: %(package)s")
STARS_TOPUP_RECONCILED = gettext_noop("Telegram Stars (reconciled): %(package)s")
STARS_REFUND = gettext_noop("Telegram Stars refund of entry #%(entry)s by %(author)s")
STARS_REFUND_REFUSED = gettext_noop("Telegram refused the Stars refund of entry #%(entry)s: coins given back")
STARS_REFUND_OUTSIDE = gettext_noop("Telegram Stars payment refunded outside the bot")
PROMO_CODE = gettext_noop("Promo code %(code)s")
PROMO_CODE_BONUS = gettext_noop("Promo code bonus on a top-up")
REVERSAL = gettext_noop("Reversal of entry #%(entry)s")
OPENING_BALANCE = gettext_noop("Balance carried over from the earlier service")
OPERATOR_TOPUP = gettext_noop("Top-up by an operator")

TEMPLATES = (
    PROMO_BONUS_REVERSAL, AVATAR_TRAINING, AVATAR_TRAINING_REFUND, IMAGE_GENERATION, IMAGE_GENERATION_REFUND,
    STARS_TOPUP, STARS_TOPUP_RECONCILED, STARS_REFUND, STARS_REFUND_REFUSED, STARS_REFUND_OUTSIDE, PROMO_CODE, PROMO_CODE_BONUS,
    REVERSAL, OPENING_BALANCE, OPERATOR_TOPUP,
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def describe(template: str, **values) -> str:
    """The text to store: the English template filled in."""
    return template % values


class StoredTexts:
    """Texts stored in English from ``templates`` and shown in the active language: ``display`` recognises the
    template a stored text was made from and renders the template's translation with the same values; any other
    text is shown as it is."""

    def __init__(self, templates, *, order=None):
        ordered = sorted(templates, key=order) if order else list(templates)
        self._patterns = [(template, _pattern(template)) for template in ordered]

    def display(self, text: str) -> str:
        for template, pattern in self._patterns:
            if (match := pattern.fullmatch(text or "")) is not None:
                values = match.groupdict()
                if "description" in values:
                    values["description"] = self.display(values["description"])
                return gettext(template) % values
        return text


def _pattern(template: str) -> re.Pattern:
    parts, position = [], 0
    for match in _PLACEHOLDER.finditer(template):
        parts += [re.escape(template[position:match.start()]), f"(?P<{match.group(1)}>.+?)"]
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts), re.DOTALL)


def _matching_order(template: str) -> tuple:
    """Texts without values first, then the bonus suffix (its inner text may be any of the others), then the
    longer fixed parts first ("Promo code bonus on a top-up" is no "Promo code %(code)s")."""
    return (bool(_PLACEHOLDER.search(template)), template != PROMO_BONUS_REVERSAL,
            -len(_PLACEHOLDER.sub("", template)))


LEDGER_TEXTS = StoredTexts(TEMPLATES, order=_matching_order)


def description_display(text: str) -> str:
    """A stored description in the active language (unchanged when it was not made from a template)."""
    return LEDGER_TEXTS.display(text)
