"""The figures of the stats page for a period of days (of ``TIME_ZONE``), gathered from the selectors of the apps
that own the data, and the charts and table drawn from them. The figures are plain numbers (cached between
operators' views); titles and charts are made per request, in the operator's language."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from accounts.selectors import ActiveUsers, user_active_counts, user_active_per_day, user_joined_per_day
from backoffice.charts import COLOURS, Layer, bar_chart
from billing import topups
from billing.selectors import balance_user_totals, spending_per_day, topup_per_day
from billing.topups import TopUps
from generations.selectors import avatar_counts_by_status, generation_counts_per_day
from generations.models import AvatarStatus
from payments.selectors import Payers, stars_payer_counts, stars_revenue_per_day

ZERO = Decimal("0")


@dataclass(frozen=True)
class StatsFigures:
    days: list[date]
    users: dict  # balance_user_totals()
    active: ActiveUsers  # as of the period's last day
    payers: Payers
    stars: list[int]  # XTR paid per day
    topups: list[TopUps]  # per day
    spending: list[Decimal]
    new_users: list[int]
    active_per_day: list[int]
    generations: list[int]
    failed_generations: list[int]
    avatars: dict[str, int]

    @property
    def since(self) -> date:
        return self.days[0]

    @property
    def until(self) -> date:
        return self.days[-1]

    @property
    def topup_total(self) -> TopUps:
        return TopUps(**{name: sum((getattr(day, name) for day in self.topups), start)
                         for name, start in (("stars", ZERO), ("stars_count", 0), ("operator", ZERO),
                                             ("operator_count", 0))})

    @property
    def conversion(self) -> Decimal:
        """Paying users per 100 users, one decimal."""
        users = self.users["users_total"]
        return (Decimal(self.payers.ever * 100) / users).quantize(Decimal("0.1"), ROUND_HALF_UP) if users else ZERO


def stats_collect(*, until: date, days: int) -> StatsFigures:
    """Every figure of the page for the ``days`` days ending with ``until``: ten queries, whatever the data."""
    day_list = [until - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    since = day_list[0]
    period = {"since": since, "until": until}
    topup_days = topup_per_day(**period)
    generations = generation_counts_per_day(**period)
    stars, spending = stars_revenue_per_day(**period), spending_per_day(**period)
    joined, active = user_joined_per_day(**period), user_active_per_day(**period)
    return StatsFigures(
        days=day_list,
        users=balance_user_totals(),
        active=user_active_counts(day=until),
        payers=stars_payer_counts(**period),
        stars=[stars.get(day, 0) for day in day_list],
        topups=[topup_days.get(day, TopUps()) for day in day_list],
        spending=[spending.get(day, ZERO) for day in day_list],
        new_users=[joined.get(day, 0) for day in day_list],
        active_per_day=[active.get(day, 0) for day in day_list],
        generations=[generations.get(day, {}).get("total", 0) for day in day_list],
        failed_generations=[generations.get(day, {}).get("failed", 0) for day in day_list],
        avatars=avatar_counts_by_status(),
    )


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    layers: list[Layer]

    @property
    def totals(self) -> list[tuple[str, Decimal | int, str]]:
        """Each layer's label, total over the period and colour: the chart's legend."""
        return [(layer.label, sum(layer.values, 0), colour) for layer, colour in zip(self.layers, COLOURS)]


def stats_charts(figures: StatsFigures) -> list[Chart]:
    """The page's charts, titled in the active language; their layers are also the per-day table's columns."""
    return [
        Chart("stars", _("Telegram Stars received, XTR"), [Layer(_("Stars, XTR"), figures.stars)]),
        Chart("active", _("Active users per day"), [Layer(_("Active users"), figures.active_per_day)]),
        Chart("new-users", _("New users per day"), [Layer(_("New users"), figures.new_users)]),
        Chart("topups", str(topups.TOPUPS_LABEL) + ", " + _("coins"), [
            Layer(str(topups.STARS_LABEL), [day.stars for day in figures.topups]),
            Layer(str(topups.OPERATOR_LABEL), [day.operator for day in figures.topups]),
        ]),
        Chart("spending", _("Spending per day, coins"), [Layer(_("Spending"), figures.spending)]),
        Chart("generations", _("Image generations per day"), [
            Layer(_("Not failed"), [total - failed for total, failed in
                                    zip(figures.generations, figures.failed_generations)]),
            Layer(_("Failed"), figures.failed_generations),
        ]),
    ]


def chart_svg(chart: Chart, figures: StatsFigures):
    return bar_chart(title=chart.title, days=figures.days, layers=chart.layers)


def stats_table(figures: StatsFigures) -> tuple[list[str], list[tuple[date, list]]]:
    """Column titles and one row per day, newest first: the charts' numbers as a table."""
    columns = [
        (_("Stars, XTR"), figures.stars),
        (_("Active users"), figures.active_per_day),
        (_("New users"), figures.new_users),
        (str(topups.STARS_LABEL), [day.stars for day in figures.topups]),
        (str(topups.OPERATOR_LABEL), [day.operator for day in figures.topups]),
        (_("Spending"), figures.spending),
        (_("Image generations"), figures.generations),
        (_("Failed"), figures.failed_generations),
    ]
    rows = [(day, [values[index] for _title, values in columns]) for index, day in enumerate(figures.days)]
    return [title for title, _values in columns], rows[::-1]


def avatars_by_status(figures: StatsFigures) -> list[tuple[str, int]]:
    return [(label, figures.avatars.get(value, 0)) for value, label in AvatarStatus.choices]
