"""Failed updates: read-only, with "handle again" (a task; needs ``billing.adjust_balance`` too, since an update may
be a payment) and "mark resolved". (Broadcasts have their admin in ``broadcasts.admin``.)"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from botworker import failed_updates, tasks
from common.admin import ReadOnlyAdminMixin
from botworker.models import FailedUpdate, FailedUpdateResolution


@admin.register(FailedUpdate)
class FailedUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Updates that kept failing for an infrastructure reason (the database was down) after the poller's retries.
    Once the cause is fixed, handle them again (a payment is credited once whatever happens) or mark them resolved;
    a payment left alone is credited by the Stars reconciliation all the same."""

    list_display = ("update_id", "update_type", "telegram_user_id", "error_type", "attempts", "first_failed_at",
                    "last_failed_at", "resolved_at", "resolution")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "update_type", "resolution")
    search_fields = ("=update_id", "=telegram_user_id")
    fields = ("update_id", "update_type", "telegram_user_id", "error_type", "error_message", "attempts",
              "first_failed_at", "last_failed_at", "resolved_at", "resolved_by", "resolution", "payload")
    readonly_fields = fields
    actions = ("handle_again", "mark_resolved")
    change_unlocks_actions = True  # the rows are read-only; "change" only unlocks the actions on the list

    def has_adjust_balance_permission(self, request) -> bool:
        return request.user.has_perm("billing.adjust_balance") and super().has_change_permission(request)

    @admin.action(description=_("Handle again"), permissions=["adjust_balance"])
    def handle_again(self, request, queryset):
        ids = list(queryset.filter(resolved_at__isnull=True).values_list("pk", flat=True))
        for failed_update_id in ids:
            tasks.failed_update_handle_again.enqueue(failed_update_id=failed_update_id,
                                                     requested_by=request.user.get_username())
        self.message_user(request, _("%(count)s update(s) queued to be handled again; the list shows the outcome.")
                          % {"count": len(ids)}, messages.SUCCESS)

    @admin.action(description=_("Mark resolved"), permissions=["change"])
    def mark_resolved(self, request, queryset):
        resolved = sum(failed_updates.failed_update_resolve(
            failed_update_id=pk, resolved_by=request.user.get_username(), resolution=FailedUpdateResolution.MARKED,
        ) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, _("%(count)s update(s) marked resolved.") % {"count": resolved}, messages.SUCCESS)
