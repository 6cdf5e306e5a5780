"""A composition Telegram would refuse is refused before anything is sent."""

import pytest
from django.utils import translation

from broadcasts import services
from broadcasts.exceptions import BroadcastInvalid
from broadcasts.models import Broadcast


@pytest.mark.parametrize("text, problem", [
    ("<b>bold</i>", "</i> does not close the last open tag"),
    ("<div>block</div>", "<div> is not supported by Telegram"),
    ("line<br/>break", "<br/> is not supported"),
    ("<b>open", "<b> is never closed"),
])
def test_text_that_telegram_would_refuse_is_refused_before_sending(db, text, problem):
    with translation.override("en"), pytest.raises(BroadcastInvalid, match=problem):
        services.broadcast_validate(broadcast=Broadcast(title="t", text=text))


def test_telegram_html_with_links_spoilers_and_entities_is_accepted(db):
    text = ('<b>Bold</b> <i>it</i> <a href="https://t.me/x?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
            '<span class="tg-spoiler">s</span> <code>x &lt; y</code> <pre><code class="language-py">1</code></pre> '
            '<blockquote>q</blockquote>')
    services.broadcast_validate(broadcast=Broadcast(title="t", text=text))
