"""Texts that third-party apps show in the admin and translate with gettext, but without a Russian catalogue of
their own (django-tasks, django-tasks-db). Nothing imports this module: it exists so that ``makemessages`` puts
these texts in our catalogues, and ``locale/ru`` (first in ``LOCALE_PATHS``) translates them."""

from django.utils.translation import gettext_noop, pgettext_lazy

DJANGO_TASKS_DB = (
    gettext_noop("Task Result"), gettext_noop("Task Results"), gettext_noop("status"), gettext_noop("enqueued at"),
    gettext_noop("started at"), gettext_noop("finished at"), gettext_noop("args kwargs"), gettext_noop("priority"),
    gettext_noop("task path"), gettext_noop("worker id"), gettext_noop("queue name"), gettext_noop("backend name"),
    gettext_noop("run after"), gettext_noop("return value"), gettext_noop("exception class path"),
    gettext_noop("traceback"),
)
DJANGO_TASKS = (
    pgettext_lazy("Task", "Ready"), pgettext_lazy("Task", "Running"), pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
)
