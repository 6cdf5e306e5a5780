"""Who a broadcast goes to: the audiences, never bots or users blocked by an operator."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.services import balance_credit
from broadcasts import selectors
from broadcasts.exceptions import BroadcastInvalid
from broadcasts.models import Broadcast, BroadcastAudience


def test_audiences_pick_the_right_users(db, bulk_users, make_user):
    old = timezone.now() - timedelta(days=40)
    premium = bulk_users(2, is_premium=True, last_activity_at=timezone.now())
    idle = bulk_users(3, last_activity_at=old)
    rich = make_user()
    balance_credit(user=rich, amount="10")
    bulk_users(1, is_blocked=True, is_premium=True)  # blocked by an operator: never messaged
    bulk_users(1, is_bot=True)

    def audience(**fields):
        return set(selectors.broadcast_audience(broadcast=Broadcast(title="t", text="x", **fields)))

    assert audience(audience=BroadcastAudience.PREMIUM) == set(premium)
    assert audience(audience=BroadcastAudience.WITH_BALANCE) == {rich}
    assert audience(audience=BroadcastAudience.INACTIVE, inactive_days=30) == set(idle)
    ids = f"{premium[0].telegram_id}, {rich.telegram_id}\n999"
    assert audience(audience=BroadcastAudience.TELEGRAM_IDS, telegram_ids=ids) == {premium[0], rich}
    assert len(audience(audience=BroadcastAudience.ALL)) == 6
    with pytest.raises(BroadcastInvalid):
        audience(audience=BroadcastAudience.TELEGRAM_IDS, telegram_ids="12 abc")
    with pytest.raises(BroadcastInvalid):
        audience(audience=BroadcastAudience.INACTIVE)
