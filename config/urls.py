import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _

from botworker.webhook import telegram_webhook
from botworker.webhook_guard import PATH_PREFIX as TELEGRAM_WEBHOOK_PREFIX
from config.health import healthz
from config.media import media_serve

admin.site.site_header = _("Aisha — back office")
admin.site.site_title = _("Aisha admin")
admin.site.site_url = None  # no public site behind the back office: no "View site" link leading nowhere

urlpatterns = [
    # The back office's own pages (the stats page) before the admin's URLs, whose catch-all would answer them 404.
    path("", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Telegram webhook mode: the path segment derives from BOT_WEBHOOK_SECRET (see botworker.webhook).
    path(f"{TELEGRAM_WEBHOOK_PREFIX}<str:token>/", telegram_webhook, name="telegram-webhook"),
    # FAL AI job webhooks: signed by FAL; the path segment derives from FAL_WEBHOOK_SECRET (see generations.views).
    path("", include("generations.urls")),
]

if settings.SERVE_MEDIA:
    # Thumbnails and gallery links of the admin (config.media: staff only), under DEBUG or not.
    urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media_serve,
                               name="media"))
