"""Broadcasts in the admin: compose (Telegram HTML, optional photo and URL button), choose the audience, send a
preview to yourself, start, pause, resume, cancel, and watch the progress (the page refreshes while it runs).
Every action is one call of ``broadcasts.services``; sending happens in the delivery task."""

from aiogram.exceptions import TelegramAPIError
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.functional import lazy
from django.utils.html import escape, format_html
from django.utils.translation import gettext, gettext_lazy as _

from billing.formats import count
from broadcasts import selectors, services
from broadcasts.exceptions import BroadcastError, TelegramConfigError
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus
from broadcasts.sender import send_preview
from common.admin import ReadOnlyAdminMixin

CONTENT_FIELDS = ("title", "text", "photo", "button_text", "button_url", "audience", "inactive_days", "telegram_ids")
ACTIONS = {
    "_start": (services.broadcast_start, _("The broadcast has started.")),
    "_pause": (services.broadcast_pause, _("The broadcast is paused; workers stop after the current batch.")),
    "_resume": (services.broadcast_resume, _("The broadcast continues.")),
    "_cancel": (services.broadcast_cancel, _("The broadcast is cancelled.")),
}


def _https_formfield(db_field, **kwargs):
    """Model form fields as usual, but a link typed without a scheme means https (Django 6's default)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


# Shown escaped: the admin renders help texts as HTML, and these tags would swallow the rest of the page.
TEXT_HELP = lazy(lambda: escape(_("Telegram HTML: <b>, <i>, <a href>, <code>...")), str)()


class BroadcastForm(forms.ModelForm):
    button_url = forms.URLField(label=_("button link"), required=False, assume_scheme="https")
    preview_chat_id = forms.IntegerField(
        label=_("send the preview to"), required=False,
        help_text=_("Your Telegram id (the bot must have a chat with you). Defaults to the first of ADMIN_IDS."))

    class Meta:
        model = Broadcast
        fields = CONTENT_FIELDS
        help_texts = {"text": TEXT_HELP}  # also read for the read-only field of a sent broadcast
        formfield_callback = _https_formfield

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "preview_chat_id" in self.fields and settings.ADMIN_IDS:
            self.fields["preview_chat_id"].initial = settings.ADMIN_IDS[0]

    def clean(self):
        cleaned = super().clean()
        if self.instance.status in (None, "", BroadcastStatus.DRAFT) and not self.errors:
            draft = Broadcast(**{name: cleaned.get(name) for name in CONTENT_FIELDS if name in cleaned})
            try:
                services.broadcast_validate(broadcast=draft)
            except BroadcastError as error:
                raise forms.ValidationError(str(error)) from None
        return cleaned


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    form = BroadcastForm
    change_form_template = "admin/broadcasts/broadcast/change_form.html"
    list_display = ("title", "status", "audience", "sent", "failed", "blocked", "left", "created_at", "started_at")
    list_filter = ("status", "audience")
    search_fields = ("title", "text")
    readonly_fields = ("status", "last_error", "progress", "delivery_task", "created_by", "created_at",
                       "started_at", "finished_at")

    def get_queryset(self, request):
        return selectors.broadcast_list_with_progress()

    def get_fieldsets(self, request, obj=None):
        content = list(CONTENT_FIELDS)
        if obj is None or obj.status == BroadcastStatus.DRAFT:
            content.append("preview_chat_id")
        return [
            (None, {"fields": content}),
            (_("Delivery"), {"fields": self.readonly_fields}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != BroadcastStatus.DRAFT:
            return (*CONTENT_FIELDS, *self.readonly_fields)  # what was sent is no longer editable
        return self.readonly_fields

    @admin.display(description=_("sent"), ordering="n_sent")
    def sent(self, obj):
        return obj.n_sent

    @admin.display(description=_("failed"), ordering="n_failed")
    def failed(self, obj):
        return obj.n_failed

    @admin.display(description=_("blocked"), ordering="n_blocked")
    def blocked(self, obj):
        return obj.n_blocked

    @admin.display(description=_("left"), ordering="n_left")
    def left(self, obj):
        return obj.n_left

    @admin.display(description=_("progress"))
    def progress(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        p = selectors.broadcast_progress(broadcast=obj)
        recipients = reverse("admin:broadcasts_broadcastrecipient_changelist")
        summary = _("%(sent)s sent · %(failed)s failed · %(blocked)s blocked · %(left)s left (of %(total)s)") % {
            "sent": count(p.sent), "failed": count(p.failed), "blocked": count(p.blocked), "left": count(p.left),
            "total": count(p.total),
        }
        return format_html('<span id="broadcast-progress">{}</span> · <a href="{}?broadcast__id__exact={}">{}</a>',
                           summary, recipients, obj.pk, _("recipients"))

    @admin.display(description=_("delivery task"))
    def delivery_task(self, obj):
        if not obj or not obj.task_id:
            return "-"
        try:
            url = reverse("admin:django_tasks_database_dbtaskresult_change", args=[obj.task_id])
        except NoReverseMatch:
            return obj.task_id
        return format_html('<a href="{}">{}</a>', url, obj.task_id)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj, form_data=request.POST) or super().response_add(
            request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._after_save(request, obj, form_data=request.POST) or super().response_change(request, obj)

    def _after_save(self, request, obj, *, form_data):
        """Run the button that was pressed (preview, start, pause, resume, cancel) and come back to the page."""
        here = HttpResponseRedirect(reverse("admin:broadcasts_broadcast_change", args=[obj.pk]))
        if "_preview" in form_data:
            self._preview(request, obj, form_data.get("preview_chat_id"))
            return here
        for key, (action, done) in ACTIONS.items():
            if key in form_data:
                try:
                    if key == "_start":
                        action(broadcast=obj, started_by=request.user.get_username())
                    else:
                        action(broadcast=obj)
                except BroadcastError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.message_user(request, done, messages.SUCCESS)
                    if key == "_start":
                        self._report_audience(request, obj)
                return here
        return None

    def _report_audience(self, request, obj):
        total = selectors.broadcast_progress(broadcast=obj).total
        self.message_user(request, _("Recipients: %(total)s.") % {"total": total}, messages.INFO)
        if unknown := selectors.broadcast_unknown_telegram_ids(broadcast=obj):
            shown = ", ".join(map(str, unknown[:20])) + (" ..." if len(unknown) > 20 else "")
            self.message_user(request, _("%(count)s listed ids are not bot users (or are blocked) and get nothing: "
                                         "%(ids)s") % {"count": len(unknown), "ids": shown}, messages.WARNING)

    def _preview(self, request, obj, chat_id):
        chat_id = chat_id or (settings.ADMIN_IDS[0] if settings.ADMIN_IDS else None)
        if not chat_id:
            self.message_user(request, _("Give your Telegram id for the preview (or set ADMIN_IDS)."),
                              messages.ERROR)
            return
        try:
            send_preview(content=selectors.broadcast_content(broadcast=obj), chat_id=int(chat_id))
        except (TelegramAPIError, TelegramConfigError, ValueError, OSError) as error:
            self.message_user(request, _("The preview was not sent: %(error)s") % {"error": error}, messages.ERROR)
        else:
            self.message_user(request, _("The preview was sent to %(chat)s.") % {"chat": chat_id},
                              messages.SUCCESS)


@admin.register(BroadcastRecipient)
class BroadcastRecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who got what (read-only): filter by broadcast and status to see the failures and their reasons."""

    list_display = ("telegram_id", "broadcast", "status", "error_display", "attempts", "sent_at", "updated_at")
    list_filter = ("status", "broadcast")
    list_select_related = ("broadcast",)
    search_fields = ("=telegram_id",)
    fields = ("broadcast", "user", "telegram_id", "status", "error_display", "message_id", "attempts", "sent_at",
              "updated_at")
    readonly_fields = fields
    raw_id_fields = ("user",)
    show_full_result_count = False

    @admin.display(description=_("error"), ordering="error")
    def error_display(self, recipient: BroadcastRecipient) -> str:
        # Our own reasons are stored in English; Telegram's are shown as Telegram wrote them.
        return gettext(recipient.error) if recipient.error in services.STORED_ERRORS else recipient.error
