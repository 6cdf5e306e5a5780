class AdoptionError(Exception):
    """Base of the adoption's errors: each one means that nothing was changed."""


class AdoptionRefused(AdoptionError):
    """The database is not one this command can adopt, or holds rows it cannot convert; nothing was changed."""

    def __init__(self, title: str, problems: list[str]):
        self.problems = problems
        super().__init__(title + "\n" + "\n".join(f"  - {problem}" for problem in problems))


class LedgerMismatch(AdoptionError):
    """After the adoption's steps some balance differs from the sum of its ledger entries (rolled back)."""


class InjectedFailure(AdoptionError):
    """Raised by the hidden ``--fail-after-step`` option, to prove that a failure changes nothing."""
