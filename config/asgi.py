"""
ASGI config for config project.

It exposes the ASGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/asgi/
"""

import os

from django.core.asgi import get_asgi_application

from botworker.webhook_guard import WebhookBodyLimit

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')

# The guard refuses an oversized Telegram webhook body before Django's handler reads it (see its docstring).
application = WebhookBodyLimit(get_asgi_application())
