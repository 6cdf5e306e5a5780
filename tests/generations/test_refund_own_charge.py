"""A refund gives back only the row's own charge: the charge entry names the generation (or avatar) and belongs
to its user, checked with the row locked. A row pointed at another charge (changed outside the services) moves no
money, whether an operator or a failing job asks for the refund."""

from decimal import Decimal

import pytest

from billing.exceptions import ChargeMismatch
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get, ledger_mismatches
from billing.services import balance_debit, balance_refund
from generations import services
from generations.exceptions import InvalidState
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration

pytestmark = pytest.mark.django_db


def _generation(user, status=GenerationStatus.FAILED) -> ImageGeneration:
    return ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p", status=status)


def _charge(user, amount="10", **names) -> Transaction:
    return balance_debit(user=user, amount=amount, type=TransactionType.CHARGE,
                         extra_data={k: str(v) for k, v in names.items()})


def _point(row, charge) -> None:
    type(row).objects.filter(pk=row.pk).update(charge=charge)
    row.refresh_from_db()


def test_a_failed_generation_is_refunded_its_own_charge_once(funded_user):
    user = funded_user("100")
    generation = _generation(user)
    _point(generation, _charge(user, generation_id=generation.pk))
    refund = services.generation_refund(generation=generation, created_by="op")
    # The second call refunds nothing and says so (None): the admin reports only refunds it made now.
    assert services.generation_refund(generation=generation, created_by="op") is None
    assert refund.amount == Decimal("10") and balance_get(user=user) == Decimal("100")


def test_a_generation_pointed_at_another_generations_charge_is_refused(funded_user):
    user = funded_user("100")
    generation, other = _generation(user), _generation(user, GenerationStatus.COMPLETED)
    _point(generation, _charge(user, generation_id=other.pk))
    with pytest.raises(ChargeMismatch):
        services.generation_refund(generation=generation, created_by="op")
    assert balance_get(user=user) == Decimal("90")


def test_a_generation_pointed_at_another_users_avatar_charge_is_refused(funded_user):
    user, victim = funded_user("100"), funded_user("200")
    avatar = Avatar.objects.create(user=victim, name="theirs", gender="male", status=AvatarStatus.COMPLETED)
    generation = _generation(user)
    _point(generation, _charge(victim, "150", avatar_id=avatar.pk))
    with pytest.raises(ChargeMismatch):
        services.generation_refund(generation=generation, created_by="op")
    assert balance_get(user=victim) == Decimal("50") and not Transaction.objects.filter(
        type=TransactionType.REFUND).exists()


def test_a_charge_naming_the_generation_but_of_another_user_is_refused(funded_user):
    user, victim = funded_user("100"), funded_user("100")
    generation = _generation(user)
    _point(generation, _charge(victim, generation_id=generation.pk))
    with pytest.raises(ChargeMismatch):
        services.generation_refund(generation=generation, created_by="op")
    assert balance_get(user=victim) == Decimal("90")


def test_a_generation_that_did_not_fail_is_not_refunded(funded_user):
    user = funded_user("100")
    generation = _generation(user, GenerationStatus.COMPLETED)
    _point(generation, _charge(user, generation_id=generation.pk))
    with pytest.raises(InvalidState):
        services.generation_refund(generation=generation, created_by="op")
    assert balance_get(user=user) == Decimal("90")


def test_an_avatar_is_refunded_only_its_own_training_charge(funded_user):
    user, victim = funded_user("300"), funded_user("300")
    mine = Avatar.objects.create(user=user, name="mine", gender="male", status=AvatarStatus.ERROR)
    theirs = Avatar.objects.create(user=victim, name="theirs", gender="male", status=AvatarStatus.COMPLETED)
    _point(mine, _charge(victim, "150", avatar_id=theirs.pk))
    with pytest.raises(ChargeMismatch):
        services.avatar_training_refund(avatar=mine, created_by="op")
    _point(mine, _charge(user, "150", generation_id=mine.pk))  # the user's, but not a training of this avatar
    with pytest.raises(ChargeMismatch):
        services.avatar_training_refund(avatar=mine, created_by="op")
    _point(mine, _charge(user, "150", avatar_id=mine.pk))
    assert services.avatar_training_refund(avatar=mine, created_by="op").amount == Decimal("150")
    assert balance_get(user=user) == Decimal("150") and balance_get(user=victim) == Decimal("150")


def test_a_job_failing_with_a_foreign_charge_fails_without_refunding_it(funded_user, caplog):
    user, victim = funded_user("100"), funded_user("100")
    generation = _generation(user, GenerationStatus.PROCESSING)
    _point(generation, _charge(victim, generation_id=_generation(victim).pk))
    assert services.generation_fail(generation_id=generation.pk, reason="provider error") is True
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED and balance_get(user=victim) == Decimal("90")
    assert "not refunded" in caplog.text and not ledger_mismatches().exists()


def test_the_ledger_refund_checks_owner_and_purpose_when_asked(funded_user):
    user, other = funded_user("100"), funded_user("100")
    charge = _charge(user, generation_id="g-1")
    with pytest.raises(ChargeMismatch):
        balance_refund(entry=charge, user=other)
    with pytest.raises(ChargeMismatch):
        balance_refund(entry=charge, user=user, charged_for={"generation_id": "g-2"})
    assert balance_refund(entry=charge, user=user, charged_for={"generation_id": "g-1"}).amount == Decimal("10")
