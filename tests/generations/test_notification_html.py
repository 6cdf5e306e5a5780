"""Background notices are HTML: what a user typed (an avatar's name) is escaped, so Telegram takes the message."""

import pytest

from generations import services
from generations.models import Avatar, AvatarStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("status, phrase", [(AvatarStatus.COMPLETED, "готов"), (AvatarStatus.ERROR, "возвращены")])
def test_the_training_notice_escapes_the_avatar_name(make_user, bot_api, status, phrase):
    user = make_user()
    avatar = Avatar.objects.create(user=user, name="<3 Anna & <b>", gender="female", status=status)
    assert services.avatar_training_notify(avatar_id=avatar.pk) is True
    call = bot_api.wait_for("sendMessage")
    assert call.data["parse_mode"] == "HTML"
    assert "«&lt;3 Anna &amp; &lt;b&gt;»" in call.text and phrase in call.text
    assert "<3" not in call.text
