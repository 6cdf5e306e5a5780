from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import UserBalance


@pytest.mark.django_db
def test_database_refuses_a_negative_balance(make_user):
    user = make_user()
    balance = UserBalance.objects.create(user=user, coins=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        UserBalance.objects.filter(pk=balance.pk).update(coins=Decimal("-0.01"))
    balance.refresh_from_db()
    assert balance.coins == Decimal("1.00")


@pytest.mark.django_db
def test_one_balance_row_per_user(make_user):
    user = make_user()
    UserBalance.objects.create(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        UserBalance.objects.create(user=user)
