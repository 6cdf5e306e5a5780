from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BotworkerConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'botworker'
    verbose_name = _("Bot and broadcasts")

    def ready(self):
        # Workers hold a liveness lock while running a task, so the sweep can tell a dead worker's task.
        from botworker import task_recovery  # noqa: F401
