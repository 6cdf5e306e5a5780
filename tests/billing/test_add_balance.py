import getpass
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing import services
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get, ledger_mismatches


class Terminal(StringIO):
    """Typed input that claims to be a terminal, as an operator's console is."""

    def isatty(self) -> bool:
        return True


def run(*args, stdin=None) -> str:
    out = StringIO()
    kwargs = {"stdout": out, "stderr": out}
    if stdin is not None:
        kwargs["stdin"] = stdin
    call_command("add_balance", *args, **kwargs)
    return out.getvalue()


@pytest.mark.django_db
def test_top_up_with_yes_writes_an_admin_ledger_entry_with_description_and_operator(make_user):
    user = make_user(first_name="Сергей", username="serg")
    services.balance_credit(user=user, amount="10")
    output = run(str(user.telegram_id), "25.50", "Compensation", "--yes")
    assert "Сергей @serg" in output and "10.00 -> 35.50" in output
    entry = Transaction.objects.filter(user=user).first()
    assert entry.type == TransactionType.ADMIN_TOPUP
    assert entry.amount == Decimal("25.50") and entry.balance_after == Decimal("35.50")
    assert entry.description == "Compensation"
    assert entry.created_by == f"cli:{getpass.getuser()}"
    assert list(ledger_mismatches()) == []


@pytest.mark.django_db
def test_no_input_is_the_same_as_yes(make_user):
    user = make_user()
    run(str(user.telegram_id), "5", "--no-input")
    assert balance_get(user=user) == Decimal("5")


@pytest.mark.django_db
def test_top_up_asks_and_goes_ahead_when_the_operator_confirms(make_user):
    user = make_user()
    output = run(str(user.telegram_id), "7", stdin=Terminal("y\n"))
    assert "Top up? [y/N]" in output and "0 -> 7" in output
    assert balance_get(user=user) == Decimal("7")


@pytest.mark.django_db
def test_a_declined_confirmation_changes_nothing(make_user):
    user = make_user()
    output = run(str(user.telegram_id), "7", stdin=Terminal("n\n"))
    assert "Cancelled" in output
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_without_a_terminal_and_without_yes_it_refuses_instead_of_waiting(make_user):
    user = make_user()
    with pytest.raises(CommandError, match="--yes"):
        run(str(user.telegram_id), "7", stdin=StringIO("y\n"))
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["abc", "0", "-5", "1.001", "NaN"])
def test_bad_amounts_are_refused_with_a_plain_error(make_user, amount):
    user = make_user()
    with pytest.raises(CommandError, match="Invalid amount"):
        run(str(user.telegram_id), amount, "--yes")
    assert not Transaction.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_unknown_user_is_refused():
    with pytest.raises(CommandError, match="No user with Telegram id 999"):
        run("999", "5", "--yes")


@pytest.mark.django_db
def test_blocked_user_is_topped_up_only_with_force(make_user):
    from accounts.services import user_set_blocked

    user = user_set_blocked(user=make_user(), blocked=True)
    with pytest.raises(CommandError, match="--force"):
        run(str(user.telegram_id), "5", "--yes")
    assert balance_get(user=user) == 0
    run(str(user.telegram_id), "5", "--yes", "--force")
    assert balance_get(user=user) == Decimal("5")


@pytest.mark.django_db
def test_missing_arguments_are_a_command_error():
    with pytest.raises(CommandError, match="Telegram id and an amount"):
        run()


@pytest.mark.django_db
def test_list_shows_an_aligned_table_biggest_balance_first_with_search_limit_and_offset(make_user):
    small = make_user(first_name="Small", username="small_one")
    big = make_user(first_name="Big", username="big_one")
    make_user(first_name="Nobody", username="zero")
    services.balance_credit(user=small, amount="1.50")
    services.balance_credit(user=big, amount="1000")
    lines = run("--list").splitlines()
    assert lines[0].split() == ["Telegram", "id", "Username", "Name", "Balance"] and set(lines[1]) <= {"-", " "}
    rows = lines[2:-1]
    assert [row.split()[1] for row in rows] == ["big_one", "small_one", "zero"]
    assert len({len(row) for row in rows}) == 1  # balances right-aligned in one column
    assert rows[0].endswith("1000.00") and rows[2].endswith(" 0.00")
    assert lines[-1] == "3 user(s)."
    searched = run("--list", "--search", "ONE").splitlines()[2:-1]
    assert [row.split()[1] for row in searched] == ["big_one", "small_one"]
    assert [row.split()[1] for row in run("--list", "--search", "Nobody").splitlines()[2:-1]] == ["zero"]
    page = run("--list", "--limit", "1", "--offset", "1").splitlines()[2:-1]
    assert [row.split()[1] for row in page] == ["small_one"]


@pytest.mark.django_db
def test_stats_counts_users_balances_and_recent_top_ups(make_user, django_assert_max_num_queries):
    rich, poor, _ = make_user(), make_user(), make_user()
    services.balance_credit(user=rich, amount="100", type=TransactionType.TOPUP)
    services.balance_credit(user=poor, amount="2.5")
    services.balance_credit(user=poor, amount="3", type=TransactionType.BONUS)  # not a top-up
    services.balance_debit(user=poor, amount="5.5")
    old = services.balance_credit(user=rich, amount="40")
    Transaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    # Two for the statistics, whatever the number of users; two for the check every command makes first (that
    # this is not a database of the earlier service waiting for adopt_legacy_db).
    with django_assert_max_num_queries(4):
        output = run("--stats")
    assert "Users:                    3" in output
    assert "With a positive balance:  1" in output
    assert "Without a balance:        2" in output
    assert "Sum of balances:          140.00" in output
    assert "Coins (entries)                            Today        Last 30 days" in output
    assert "Top-ups                               102.50 (2)          142.50 (3)" in output
    assert "Top-ups via Telegram Stars            100.00 (1)          100.00 (1)" in output
    assert "Top-ups by operators                    2.50 (1)           42.50 (2)" in output


@pytest.mark.django_db
def test_interactive_finds_users_by_id_or_username_and_re_asks_on_bad_input(make_user):
    first = make_user(first_name="Anna", username="anna")
    second = make_user(first_name="Boris")
    typed = "\n".join([
        "@nobody",            # unknown: asks again
        "@ANNA",              # found by username, case-insensitive
        "abc", "-3", "10",    # two bad amounts, then a good one
        "Bonus for a bug",    # description
        "y",
        str(second.telegram_id),
        "2.5", "", "yes",     # default description
        "@anna", "1", "", "n",  # declined
        "q",
    ]) + "\n"
    output = run("--interactive", stdin=StringIO(typed))
    assert "No user '@nobody'" in output
    assert output.count("Invalid amount") == 2
    assert "Cancelled" in output and output.rstrip().endswith("Bye.")
    assert balance_get(user=first) == Decimal("10") and balance_get(user=second) == Decimal("2.5")
    descriptions = set(Transaction.objects.values_list("description", "type"))
    assert descriptions == {("Bonus for a bug", "admin_topup"), ("Top-up by an operator", "admin_topup")}


@pytest.mark.django_db
def test_interactive_ends_at_the_end_of_input_and_skips_blocked_users_without_force(make_user):
    from accounts.services import user_set_blocked

    blocked = user_set_blocked(user=make_user(username="blocked"), blocked=True)
    output = run("--interactive", stdin=StringIO("@blocked\n@blocked\n5"))
    assert output.count("is blocked") == 2 and output.rstrip().endswith("Bye.")
    assert balance_get(user=blocked) == 0
    run("--interactive", "--force", stdin=StringIO("@blocked\n5\n\ny\n"))
    assert balance_get(user=blocked) == Decimal("5")


def test_without_a_terminal_the_process_refuses_and_exits_non_zero(tmp_path):
    """A real process with its input piped from nowhere: it must fail fast, not wait for an answer."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    root = Path(settings.BASE_DIR)
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=root, env=env, check=True, timeout=120)
    create = "from accounts.services import user_upsert_from_telegram as u; u(telegram_id=5, first_name='T')"
    subprocess.run([*manage, "shell", "-c", create], cwd=root, env=env, check=True, timeout=60)
    result = subprocess.run(
        [*manage, "add_balance", "5", "10"], cwd=root, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Not running in a terminal" in result.stderr
    check = "from billing.models import Transaction as T; print(T.objects.count())"
    count = subprocess.run([*manage, "shell", "-v0", "-c", check], cwd=root, env=env, capture_output=True, text=True)
    assert count.stdout.strip() == "0"
