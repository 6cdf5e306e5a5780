"""The web stack is async end to end under ASGI: no middleware makes Django adapt the chain (a thread hop in and
out of every request, the webhook's included), and the admin's static files are still served."""

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, override_settings


def test_no_middleware_is_adapted_under_asgi():
    handler = ASGIHandler()
    adapted = []
    adapt = handler.adapt_method_mode

    def recording(is_async, method, method_is_async=None, *args, **kwargs):
        # The chain of middlewares and the view, not the process_view() hooks (CSRF's is sync: one hop, which
        # Django adds for every request under ASGI).
        hook = getattr(method, "__name__", "").startswith("process_")
        if not hook and (iscoroutinefunction(method) if method_is_async is None else method_is_async) != is_async:
            adapted.append(kwargs.get("name") or method)
        return adapt(is_async, method, method_is_async, *args, **kwargs)

    handler.adapt_method_mode = recording
    handler.load_middleware(is_async=True)
    assert adapted == []


@pytest.mark.django_db
@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
async def test_the_admins_static_files_are_served_under_asgi():
    response = await AsyncClient().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join([chunk async for chunk in response]) if response.streaming else response.content
