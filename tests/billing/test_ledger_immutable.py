"""Ledger entries refuse deletion in the model itself, one by one or as a queryset, wherever the call comes from."""

import pytest

from billing import services
from billing.exceptions import LedgerEntryImmutable
from billing.models import Transaction

pytestmark = pytest.mark.django_db


def test_an_entry_refuses_deletion(make_user):
    entry = services.balance_credit(user=make_user(), amount=5)
    with pytest.raises(LedgerEntryImmutable):
        entry.delete()
    assert Transaction.objects.filter(pk=entry.pk).exists()


def test_a_queryset_of_entries_refuses_deletion(make_user):
    user = make_user()
    services.balance_credit(user=user, amount=5)
    services.balance_debit(user=user, amount=2)
    with pytest.raises(LedgerEntryImmutable):
        Transaction.objects.filter(user=user).delete()
    with pytest.raises(LedgerEntryImmutable):
        user.transactions.all().delete()
    assert Transaction.objects.filter(user=user).count() == 2
