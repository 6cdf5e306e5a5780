"""Domain errors of avatars, photos, the provider and generation. Edges translate them into user text."""


class GenerationsError(Exception):
    """Base of the generations app's domain errors."""


class NotFound(GenerationsError):
    """No such avatar / generation, or it belongs to another user (the same answer on purpose)."""


class InvalidInput(GenerationsError, ValueError):
    """A name, prompt, ratio or count outside its limits."""


class InvalidState(GenerationsError):
    """The action does not fit the object's status (e.g. adding photos to an avatar in training)."""


class PhotoRejected(GenerationsError):
    """A photo that cannot be kept. ``reason`` is a stable code; ``params`` fill the user-facing text."""

    def __init__(self, reason: str, **params):
        self.reason = reason
        self.params = params
        super().__init__(f"photo rejected: {reason} {params or ''}".strip())


class PhotoLimitReached(PhotoRejected):
    def __init__(self, *, limit: int):
        super().__init__("limit", limit=limit)


class NotEnoughPhotos(InvalidState):
    def __init__(self, *, have: int, need: int):
        self.have, self.need = have, need
        super().__init__(f"{have} photos, at least {need} needed")


class ProviderUnavailable(GenerationsError):
    """No provider key in production: training and generation are refused rather than faked."""


class ProviderError(GenerationsError):
    """The provider failed. ``retryable`` errors may succeed later; others are final."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None):
        self.status = status
        self.error_type = error_type
        super().__init__(message)


class ProviderTransientError(ProviderError):
    retryable = True


class ProviderRejected(ProviderError):
    """A final refusal: bad key (401/403), invalid input or content policy (422), malformed output."""


class ProviderNotReady(ProviderError):
    """The result was asked for before the request completed."""

    retryable = True


class WebhookSignatureInvalid(GenerationsError):
    """A FAL webhook whose Ed25519 signature is missing, stale or does not verify with FAL's published keys."""
