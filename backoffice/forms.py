from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _, ngettext

PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30


def _period_choices() -> list[tuple[int, str]]:
    """Called at each rendering, so the labels are in the operator's language."""
    return [(days, ngettext("%(days)s day", "%(days)s days", days) % {"days": days}) for days in PERIODS]


class PeriodForm(forms.Form):
    """The stats page's period: so many days ending with a day (today unless chosen)."""

    days = forms.TypedChoiceField(
        label=_("Period"), coerce=int, initial=DEFAULT_DAYS,
        choices=_period_choices,
    )
    until = forms.DateField(label=_("Up to and including"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def period(self) -> tuple[int, object]:
        """(days, last day) chosen, or the default (30 days up to today) for anything invalid."""
        today = timezone.localdate()
        if not self.is_valid():
            return DEFAULT_DAYS, today
        until = self.cleaned_data["until"] or today
        return self.cleaned_data["days"], min(until, today)
