"""The operator's console tool for balances: top up one user, list balances, show totals, or work in a loop."""

import getpass
import sys
from decimal import Decimal

from django.core.management.base import CommandError
from django.utils import translation

from accounts.exceptions import UserNotFound
from accounts.management.base import ProjectCommand
from accounts.models import User
from accounts.selectors import user_find, user_get_by_telegram_id
from billing import ledger_texts
from billing.exceptions import BillingError, InvalidAmount
from billing.models import TransactionType
from billing.selectors import balance_get, balance_list, balance_stats
from billing.services import balance_credit, parse_amount

DEFAULT_DESCRIPTION = ledger_texts.OPERATOR_TOPUP
YES = {"y", "yes", "д", "да"}
QUIT = {"q", "quit", "exit", "й"}
LIST_COLUMNS = (("Telegram id", 14, ">"), ("Username", 24, "<"), ("Name", 32, "<"), ("Balance", 14, ">"))


class Quit(Exception):
    """The operator ended the interactive session (``q`` or end of input)."""


class Command(ProjectCommand):
    help = (
        "Top up a user's balance (an admin_topup ledger entry), after showing who it is and asking to confirm. "
        "Also: --list balances, --stats totals, --interactive loop."
    )
    # Tests (and scripts) hand in their own input stream, like Django's createsuperuser.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("telegram_id", nargs="?", help="The user's Telegram id.")
        parser.add_argument("amount", nargs="?", help="Coins to add, a positive number with up to two decimals.")
        parser.add_argument("description", nargs="?", default=None, help="Why (shown in the ledger).")
        parser.add_argument("--yes", "--no-input", dest="yes", action="store_true", help="Do not ask to confirm.")
        parser.add_argument("--force", action="store_true", help="Top up even a user blocked by an operator.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--list", action="store_true", help="List users with their balances, biggest first.")
        mode.add_argument("--stats", action="store_true", help="Show totals of users, balances and top-ups.")
        mode.add_argument("--interactive", action="store_true", help="Find users and top them up in a loop.")
        parser.add_argument("--search", default=None, help="With --list: username or name contains TEXT.")
        parser.add_argument("--limit", type=int, default=None, help="With --list: at most N users.")
        parser.add_argument("--offset", type=int, default=0, help="With --list: skip the first N users.")

    def handle(self, *args, **options):
        self.stdin = options.get("stdin") or sys.stdin
        self.force = options["force"]
        self.operator = _operator()
        if options["list"]:
            return self.show_list(search=options["search"], limit=options["limit"], offset=options["offset"])
        if options["stats"]:
            return self.show_stats()
        if options["interactive"]:
            return self.run_interactive()
        if not options["telegram_id"] or not options["amount"]:
            raise CommandError("Give a Telegram id and an amount (or use --list, --stats or --interactive).")
        self.top_up_one(
            telegram_id=options["telegram_id"], amount=options["amount"],
            description=options["description"], confirmed=options["yes"],
        )

    # One top-up from the command line.
    def top_up_one(self, *, telegram_id: str, amount: str, description: str | None, confirmed: bool):
        try:
            user = user_get_by_telegram_id(telegram_id=telegram_id)
        except UserNotFound:
            raise CommandError(f"No user with Telegram id {telegram_id}.") from None
        amount = _amount(amount)
        if user.is_blocked and not self.force:
            raise CommandError(f"User {telegram_id} is blocked by an operator; add --force to top up anyway.")
        self.show_user(user, amount=amount)
        if not confirmed:
            if not _is_terminal(self.stdin):
                raise CommandError("Not running in a terminal, so nobody can confirm: nothing changed. Add --yes.")
            if self.ask("Top up? [y/N]: ").strip().lower() not in YES:
                self.stdout.write("Cancelled: nothing changed.")
                return
        self.credit(user, amount=amount, description=description or DEFAULT_DESCRIPTION)

    def credit(self, user: User, *, amount: Decimal, description: str):
        try:
            entry = balance_credit(
                user=user, amount=amount, type=TransactionType.ADMIN_TOPUP, description=description,
                created_by=self.operator,
            )
        except BillingError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Done: {user.telegram_id} now has {entry.balance_after} coins (ledger entry #{entry.pk})."
        ))

    def show_user(self, user: User, *, amount: Decimal):
        before = balance_get(user=user)
        handle = f"@{user.username}" if user.username else "(no username)"
        blocked = "  [BLOCKED]" if user.is_blocked else ""
        self.stdout.write(f"User: {user.full_name or '(no name)'} {handle}, Telegram id {user.telegram_id}{blocked}")
        self.stdout.write(f"Balance: {before} -> {before + amount} (+{amount})")

    # --list and --stats.
    def show_list(self, *, search: str | None, limit: int | None, offset: int):
        if (limit is not None and limit < 0) or offset < 0:
            raise CommandError("--limit and --offset must not be negative.")
        self.stdout.write(_row(title for title, _width, _align in LIST_COLUMNS))
        self.stdout.write(_row("-" * width for _title, width, _align in LIST_COLUMNS))
        shown = 0
        for user in balance_list(search=search, limit=limit, offset=offset).iterator(chunk_size=500):
            shown += 1
            self.stdout.write(_row((str(user.telegram_id), user.username or "", user.full_name, f"{user.coins:.2f}")))
        self.stdout.write(f"{shown} user(s).")

    def show_stats(self):
        stats = balance_stats()
        lines = (
            ("Users", stats["users_total"]),
            ("With a positive balance", stats["users_with_balance"]),
            ("Without a balance", stats["users_without_balance"]),
            ("Sum of balances", f"{stats['balance_sum']:.2f}"),
        )
        for label, value in lines:
            self.stdout.write(f"{label + ':':<26}{value}")
        # The stats page's naming of top-ups (billing.topups), in the command's language: English.
        self.stdout.write(f"\n{'Coins (entries)':<28}{'Today':>20}{'Last 30 days':>20}")
        with translation.override(None):
            for (label, today, today_count), (_label, month, month_count) in zip(
                stats["topups_today"].rows(), stats["topups_30d"].rows()
            ):
                self.stdout.write(f"{str(label):<28}{f'{today:.2f} ({today_count})':>20}"
                                  f"{f'{month:.2f} ({month_count})':>20}")

    # --interactive.
    def run_interactive(self):
        self.stdout.write("Top up users one after another. Enter q (or end the input) to quit.")
        try:
            while True:
                self.interactive_round()
        except Quit:
            self.stdout.write("Bye.")

    def interactive_round(self):
        user = self.ask_user()
        if user.is_blocked and not self.force:
            self.stdout.write(f"User {user.telegram_id} is blocked by an operator; restart with --force to top up.")
            return
        self.show_user(user, amount=Decimal("0"))
        amount = self.ask_amount()
        description = self.ask_or_quit(f"Description [{DEFAULT_DESCRIPTION}]: ").strip() or DEFAULT_DESCRIPTION
        self.show_user(user, amount=amount)
        if self.ask_or_quit("Top up? [y/N]: ").strip().lower() not in YES:
            self.stdout.write("Cancelled: nothing changed.")
            return
        try:
            self.credit(user, amount=amount, description=description)
        except CommandError as error:
            self.stderr.write(str(error))

    def ask_user(self) -> User:
        while True:
            query = self.ask_or_quit("User (Telegram id or @username, q to quit): ").strip()
            if not query:
                continue
            try:
                return user_find(query=query)
            except UserNotFound:
                self.stderr.write(f"No user {query!r}; try again.")

    def ask_amount(self) -> Decimal:
        while True:
            try:
                return _amount(self.ask_or_quit("Amount: "))
            except CommandError as error:
                self.stderr.write(f"{error} Try again.")

    def ask_or_quit(self, prompt: str) -> str:
        answer = self.ask(prompt)
        if answer is None or answer.strip().lower() in QUIT:
            raise Quit
        return answer

    def ask(self, prompt: str) -> str | None:
        """One line from the operator, or None at the end of the input."""
        self.stdout.write(prompt, ending="")
        self.stdout.flush()
        line = self.stdin.readline()
        return line.rstrip("\r\n") if line else None


def _amount(value: str) -> Decimal:
    try:
        return parse_amount(value)
    except InvalidAmount as error:
        raise CommandError(f"Invalid amount: {error}") from None


def _is_terminal(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "cli:unknown"


def _row(values) -> str:
    cells = []
    for value, (_title, width, align) in zip(values, LIST_COLUMNS):
        text = value if len(value) <= width else value[: width - 1] + "…"
        cells.append(f"{text:{align}{width}}")
    return "  ".join(cells).rstrip()
