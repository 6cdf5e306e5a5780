"""What a new operator meets at start: the FAL_KEY warning once per process (not on every use of the provider),
and no "View site" link in the admin leading nowhere."""

import subprocess
import sys

import pytest
from django.urls import reverse

from tests.support.processes import ROOT

SCRIPT = """
import django, logging
django.setup()
from django.apps import apps
from generations.fal import provider_get
for _ in range(3):
    provider_get()
apps.get_app_config("generations").ready()  # an app set up twice (a test runner, a reloader) says it once too
"""


def test_the_fal_key_warning_is_logged_once_per_process():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "FAL_KEY": "", "SECRET_KEY": "t",
           "DATABASE_URL": "sqlite:////tmp/unused.sqlite3", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "FAL_KEY is not set" in line]
    assert len(warnings) == 1, done.stderr


@pytest.mark.django_db
def test_the_admin_has_no_view_site_link(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "View site" not in page and 'href="/"' not in page
