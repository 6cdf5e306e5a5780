"""The operators' stats page (``/admin/stats/``)."""

from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from backoffice.forms import PeriodForm
from backoffice.stats import avatars_by_status, chart_svg, stats_charts, stats_collect, stats_table
from billing.formats import percent

# The aggregates over a big ledger take tens of milliseconds each; operators refreshing the page (and several
# of them at once) share one computation per minute, period and web process.
STATS_CACHE_SECONDS = 60


def stats_view(request):
    # Revenue figures: only for operators who may read the ledger, not for every staff account.
    if not request.user.has_perm("billing.view_transaction"):
        raise PermissionDenied
    form = PeriodForm(request.GET or None)
    days, until = form.period()
    figures = cache.get_or_set(f"backoffice-stats:{until.isoformat()}:{days}",
                               lambda: stats_collect(until=until, days=days), STATS_CACHE_SECONDS)
    charts = stats_charts(figures)
    columns, rows = stats_table(figures)
    context = {
        **admin.site.each_context(request),
        "title": _("Statistics"),
        "cache_seconds": STATS_CACHE_SECONDS,
        "form": form if form.is_bound else PeriodForm(initial={"days": days, "until": until}),
        "figures": figures,
        "topups": figures.topup_total,
        "stars_total": sum(figures.stars),
        "spending_total": sum(figures.spending, 0),
        "generations_total": sum(figures.generations),
        "failed_total": sum(figures.failed_generations),
        "conversion": percent(figures.conversion),
        "charts": [(chart, chart_svg(chart, figures)) for chart in charts],
        "columns": columns,
        "rows": rows,
        "avatars_by_status": avatars_by_status(figures),
    }
    return TemplateResponse(request, "backoffice/stats.html", context)
