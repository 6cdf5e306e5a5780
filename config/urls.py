from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from botworker.webhook import telegram_webhook
from botworker.webhook_guard import PATH_PREFIX as TELEGRAM_WEBHOOK_PREFIX
from config import admin_permissions, user_admin
from config.health import healthz

admin.site.site_header = _("Aisha — back office")
admin.site.site_title = _("Aisha admin")
admin_permissions.register(admin.site)
user_admin.register(admin.site)

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
