class PromoCodeError(Exception):
    """Base of the promo code app's domain errors."""


class PromoCodeInvalid(PromoCodeError):
    """Bad terms when creating a code (operator input); ``field`` names the term at fault, if one is."""

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message)
        self.field = field


class PromoCodeNotFound(PromoCodeError):
    """No such code, or an operator switched it off."""


class PromoCodeNotStarted(PromoCodeError):
    def __init__(self, *, valid_from):
        self.valid_from = valid_from
        super().__init__(f"The code is valid from {valid_from}.")


class PromoCodeExpired(PromoCodeError):
    pass


class PromoCodeExhausted(PromoCodeError):
    """Every use of the code is taken."""


class PromoCodeAlreadyUsed(PromoCodeError):
    """This user reached the code's uses per user."""


class DiscountUnavailable(PromoCodeError):
    """The discount was used by another purchase already."""


class DiscountHeld(DiscountUnavailable):
    """The discount is held for another Stars invoice of the same user that is being paid right now."""
