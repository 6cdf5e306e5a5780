"""The operators' view of the bot's users: search, filters, block and unblock, a link that opens the user in
Telegram, and "Send a message" (one message through the bot, as a task).

Other apps add their parts of a user's page from above (balance and ledger from ``billing``, avatars and
generations from ``generations``, promo code activations from ``promocodes``; ``backoffice.user_admin`` puts them
together), so this app imports none of them.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.exceptions import BotNotConfigured
from accounts.models import User
from common.admin import (
    AdminFormMixin, BigTableAdminMixin, ReadOnlyAdminMixin, TelegramIdSearchMixin, short_datetime_column, truncated,
)

# Telegram's limit for one text message.
MESSAGE_MAX_LENGTH = 4096
MESSAGE_TASK = "accounts.tasks.user_message_deliver"


class SendMessageForm(AdminFormMixin, forms.Form):
    text = forms.CharField(
        label=_("Message"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text=_("Sent as plain text, exactly as typed."),
    )


class UserAdmin(BigTableAdminMixin, TelegramIdSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # Chosen to fit a 1366 px screen beside the filters (Premium is a filter): short dates, long names cut.
    list_display = ("telegram_id", "username_short", "full_name", "is_blocked", "created_short", "active_short")
    list_display_links = ("telegram_id", "username_short")
    list_filter = ("is_premium", "is_blocked", "created_at")
    search_fields = ("username", "first_name", "last_name")
    search_help_text = _("A Telegram id (exact), or part of a username or name.")
    telegram_id_lookup = "telegram_id"
    ordering = ("-created_at",)
    actions = ("block_users", "unblock_users")
    # Users come from Telegram and their ledger must stay: no add, no delete; "change" grants the actions only.
    change_unlocks_actions = True
    change_form_template = "admin/accounts/user/change_form.html"
    readonly_fields = (
        "telegram_id", "telegram_link", "first_name", "last_name", "username", "language_code", "timezone",
        "is_premium", "is_bot", "is_blocked", "created_at", "updated_at", "last_activity_at", "bot_blocked_at",
    )
    fields = readonly_fields

    created_short = short_datetime_column("created_at", description=_("joined"))
    active_short = short_datetime_column("last_activity_at", description=_("last activity"))

    @admin.display(description=_("full name"))
    def full_name(self, user: User) -> str:
        return truncated(user.full_name, 24)

    @admin.display(description=_("username"), ordering="username")
    def username_short(self, user: User) -> str:
        return truncated(user.username, 16) if user.username else self.get_empty_value_display()

    @admin.display(description=_("in Telegram"))
    def telegram_link(self, user: User) -> str:
        return format_html('<a href="tg://user?id={}">{}</a>', user.telegram_id, _("Open the chat in Telegram"))

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.send_message_view)
        return [path("<path:object_id>/send-message/", view, name="%s_%s_send_message" % info), *super().get_urls()]

    def object_tools(self, request, object_id: str) -> list[tuple[str, str, str]]:
        """The buttons above a user's page: (url, label, element id). Subclasses add theirs."""
        if not self.has_change_permission(request):
            return []
        url = reverse("admin:accounts_user_send_message", args=[object_id])
        return [(url, _("Send a message"), "send-message-link")]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "user_object_tools": self.object_tools(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def send_message_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        form = SendMessageForm(request.POST or None)
        if form.is_bound and form.is_valid():
            try:
                services.user_message_send(user=user, text=form.cleaned_data["text"])
            except BotNotConfigured as exc:
                self.message_user(request, _("Not sent: %(error)s") % {"error": exc}, messages.ERROR)
            else:
                tasks_url = reverse("admin:django_tasks_database_dbtaskresult_changelist")
                self.message_user(request, format_html(
                    '{} <a href="{}?task_path={}">{}</a>', _("The message to %(user)s is queued.") % {"user": user},
                    tasks_url, MESSAGE_TASK, _("Its delivery (or Telegram's refusal) shows in the background tasks."),
                ), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send a message"),
            "subtitle": str(user),
            "form": form,
            "original": user,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/accounts/user/send_message.html", context)

    @admin.action(description=_("Block selected users"), permissions=["change"])
    def block_users(self, request, queryset):
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description=_("Unblock selected users"), permissions=["change"])
    def unblock_users(self, request, queryset):
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(self, request, queryset, *, blocked: bool) -> None:
        users = list(queryset)
        for user in users:
            services.user_set_blocked(user=user, blocked=blocked)
        message = ngettext("%(count)d user blocked.", "%(count)d users blocked.", len(users)) if blocked else (
            ngettext("%(count)d user unblocked.", "%(count)d users unblocked.", len(users))
        )
        self.message_user(request, message % {"count": len(users)}, messages.SUCCESS)


admin.site.register(User, UserAdmin)
