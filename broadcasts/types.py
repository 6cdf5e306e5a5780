"""What passes between the delivery bookkeeping (``broadcasts.delivery``), the Telegram side
(``broadcasts.sender``) and the delivery task: plain data, no ORM and no aiogram, so that none of those modules
imports another for its data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from broadcasts.models import RecipientStatus


@dataclass(frozen=True)
class Content:
    text: str
    photo_name: str = ""
    photo_file_id: str = ""
    button_text: str = ""
    button_url: str = ""


@dataclass(frozen=True)
class Target:
    recipient_id: int
    telegram_id: int


@dataclass
class Claim:
    broadcast_id: int
    content: Content
    targets: list[Target]
    start_at: datetime


@dataclass
class Outcome:
    recipient_id: int
    telegram_id: int
    status: str
    error: str = ""
    message_id: int | None = None
    sent_at: datetime | None = None
    # Back to pending as if never claimed (no turn for it, or the batch was aborted before it reached Telegram).
    unclaim: bool = False


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    photo_file_id: str = ""
    backoff_until: datetime | None = None
    # Set when the batch stopped for a reason that would fail every recipient (unreadable or refused photo, a
    # bug): the broadcast pauses with this reason instead of failing everyone.
    abort_reason: str = ""
    photo_refused: bool = False


def batch_not_sent(claim: Claim, *, reason: str) -> BatchResult:
    """The result of a batch that failed before any of its rows reached Telegram."""
    return BatchResult(outcomes=[Outcome(t.recipient_id, t.telegram_id, RecipientStatus.PENDING, unclaim=True)
                                 for t in claim.targets], abort_reason=reason)


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    blocked: int
    left: int

    def __str__(self) -> str:
        return f"sent {self.sent} · failed {self.failed} · blocked {self.blocked} · left {self.left} / {self.total}"
