"""/media/ (users' photos, generated images): served by the web process that `bash scripts/run` starts, under
DEBUG or not, to logged-in staff only; behind nginx handed over with X-Accel-Redirect."""

import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.support.processes import start_web, stop, subprocess_env

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, session: str = ""):
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"} if session else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.django_db(transaction=True)
def test_the_run_configuration_serves_a_media_file_to_staff_only(tmp_path, settings):
    media = tmp_path / "media"
    (media / "generations" / "7").mkdir(parents=True)
    (media / "generations" / "7" / "1.png").write_bytes(PNG)
    staff = get_user_model().objects.create_user("op", password="pw-123456", is_staff=True)
    browser = Client()
    browser.force_login(staff)  # a session row in the live database, which the web process reads
    # What scripts/run starts (the Procfile's gunicorn), as in production: DEBUG off.
    env = subprocess_env(MEDIA_ROOT=str(media), SECRET_KEY=settings.SECRET_KEY)  # the session is signed with it
    proc, url = start_web(env, tmp_path / "web.log")
    try:
        status, headers, body = _get(f"{url}/media/generations/7/1.png", browser.cookies["sessionid"].value)
        assert (status, headers["Content-Type"], body) == (200, "image/png", PNG)
        status, headers, _ = _get(f"{url}/media/generations/7/1.png")
        assert status == 302 and "/admin/login/" in headers["Location"]  # never public: personal data
        assert _get(f"{url}/media/generations/7/2.png", browser.cookies["sessionid"].value)[0] == 404
    finally:
        stop(proc)


def test_behind_nginx_the_file_is_handed_over_with_x_accel_redirect(admin_client, settings):
    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    response = admin_client.get("/media/avatar-photos/3/ab cd.jpg")
    assert response.status_code == 200 and response["X-Accel-Redirect"] == "/protected-media/avatar-photos/3/ab%20cd.jpg"
    assert admin_client.get("/media/avatar-photos/../../settings.py").status_code == 404
    assert Client().get("/media/avatar-photos/3/ab.jpg").status_code == 302


def test_the_nginx_example_hands_media_over_from_an_internal_location():
    import re

    from tests.support.processes import ROOT

    text = (ROOT / "deploy" / "nginx-aisha.conf").read_text()
    internal = re.search(r"location /protected-media/ \{(.*?)\}", text, re.S)
    assert internal and "internal;" in internal.group(1) and "alias /opt/aisha/media/;" in internal.group(1)
    media = re.search(r"location /media/ \{(.*?)\}", text, re.S)
    assert media and "proxy_pass http://aisha_web;" in media.group(1)  # Django checks the login first
