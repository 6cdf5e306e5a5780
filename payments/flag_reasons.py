"""Why a payment was flagged instead of credited (``FlaggedPayment.reason``): stored in English from the templates
below and shown in the operator's language (``reason_display``), like the ledger's descriptions
(``billing.ledger_texts``)."""

from django.utils.translation import gettext_noop

from billing.ledger_texts import StoredTexts

NOT_STARS = gettext_noop("paid in %(currency)s, not XTR")
ANOTHER_PAYER = gettext_noop("the invoice is for Telegram user %(invoiced)s, paid by %(payer)s")
ANOTHER_PRICE = gettext_noop("paid %(paid)s XTR, the invoice's price is %(price)s")
REASONS = StoredTexts((NOT_STARS, ANOTHER_PAYER, ANOTHER_PRICE))


def reason_display(reason: str) -> str:
    """A stored reason in the active language (unchanged when it was not made from a template)."""
    return REASONS.display(reason)
