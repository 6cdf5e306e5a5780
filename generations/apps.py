import logging

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from common.log_once import log_once


class GenerationsConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'generations'
    verbose_name = _("Avatars and images")

    def ready(self):
        from generations import tasks  # noqa: F401 - connects the job steps the services queue to their tasks

        if not settings.FAL_KEY:
            log_once(  # provider_get says the same on each use: once per process is enough
                logging.getLogger(__name__), logging.WARNING, "FAL_KEY", "FAL_KEY is not set: %s",
                "training and generation use the LOCAL DEVELOPMENT placeholder backend" if settings.DEBUG
                else "training and generation are refused (set FAL_KEY, or DEBUG=true for the placeholder backend)",
            )
