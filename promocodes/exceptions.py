class PromoCodeError(Exception):
    """Base of the promo code app's domain errors."""


class PromoCodeInvalid(PromoCodeError):
    """Bad terms when creating a code (operator input)."""
