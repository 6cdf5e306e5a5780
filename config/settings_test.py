"""Settings for the test suite: the real settings with test-only secrets and fast password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("BOT_TOKEN", "")
os.environ.setdefault("FAL_KEY", "")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = BASE_DIR / "test-artifacts" / "media"  # noqa: F405
# Tasks run at once in tests unless a test asks for the database backend and a worker.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
# Tests serve the admin's static files through the finders (no collectstatic run), as DEBUG does.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The tests' live server and browser speak plain http.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
