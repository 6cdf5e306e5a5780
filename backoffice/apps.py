from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The operators' own pages beside the admin's model pages (the stats page). The top layer: it may import
    every app, and no app imports it."""

    name = "backoffice"
    verbose_name = _("Back office")
