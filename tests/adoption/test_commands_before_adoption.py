"""Pointed at a database of the earlier service before `adopt_legacy_db`, the project's commands say so in one
line and exit 1, instead of a traceback about a table that is missing; they change nothing."""

import pytest

pytestmark = pytest.mark.postgres

NOT_ADOPTED = "this looks like a database of the earlier service: run adopt_legacy_db first"


@pytest.mark.parametrize("command", [
    ("check_ledger",), ("add_balance", "--list"), ("add_balance", "42705442", "10", "--yes"), ("reconcile_stars",),
    ("resume_broadcasts",), ("enqueue_periodic",), ("ensure_operator",), ("runbot",),
], ids=lambda command: " ".join(command))
def test_a_command_on_a_database_not_adopted_yet_says_so_in_one_line(legacy_db, command):
    before = legacy_db.dump()
    result = legacy_db.manage(*command)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if "Error" in line] == [f"CommandError: {NOT_ADOPTED}"]
    assert "Traceback" not in result.stderr
    assert legacy_db.dump() == before


def test_the_health_check_fails_the_database_on_a_database_not_adopted_yet(legacy_db):
    result = legacy_db.manage("bot_healthcheck")
    assert result.returncode == 1
    assert f"FAIL database: LegacyDatabaseNotAdopted: {NOT_ADOPTED}" in result.stderr.splitlines()

