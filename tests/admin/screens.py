"""The admin's screens, discovered from the admin site's registry, so that a new model, admin view or action is
walked by the browser test as soon as it is registered.

A plan is computed with the ORM before the browser starts (under Playwright's event loop Django refuses the ORM):
the index, the stats page, every app's page, and per registered model its changelist, add form, the change form of
one seeded row, the custom views its ModelAdmin adds in ``get_urls`` and every action of its changelist (an action
either answers with an intermediate form, such as "Adjust balance" or the delete confirmation, or comes back to the
list with its messages).
"""

from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from django.urls.resolvers import RoutePattern

# The URL names every ModelAdmin has; anything else in a ModelAdmin's get_urls is a view of ours (or Django's own,
# such as a user's password form) and is walked as a custom screen.
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


@dataclass(frozen=True)
class Screen:
    name: str  # a file name: app-model-view
    url: str
    kind: str  # "page", "custom" (may answer a download or refuse GET), "action" (run on one row of a changelist)
    action: str = ""
    rows: tuple[str, ...] = field(default=())


def screens(*, username: str, extra_urls: dict[str, str] | None = None) -> list[Screen]:
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username=username)
    found = [Screen("index", reverse("admin:index"), "page"), Screen("stats", reverse("admin-stats"), "page")]
    found += [Screen(name, url, "page") for name, url in (extra_urls or {}).items()]
    apps, actions = set(), []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        info = model._meta.app_label, model._meta.model_name
        prefix = "%s-%s" % info
        if info[0] not in apps:
            apps.add(info[0])
            found.append(Screen(f"app-{info[0]}", reverse("admin:app_list", args=[info[0]]), "page"))
        found.append(Screen(f"{prefix}-list", reverse("admin:%s_%s_changelist" % info), "page"))
        if model_admin.has_add_permission(request):
            found.append(Screen(f"{prefix}-add", reverse("admin:%s_%s_add" % info), "page"))
        row = model._default_manager.order_by("pk").last()
        assert row is not None, f"no row of {model.__name__}: seed one for the browser test"
        found.append(Screen(f"{prefix}-change", reverse("admin:%s_%s_change" % info, args=[row.pk]), "page"))
        found += _custom_views(model_admin, info, row)
        actions += [
            Screen(f"{prefix}-action-{name}", reverse("admin:%s_%s_changelist" % info), "action", action=name,
                   rows=(str(row.pk),))
            for name in model_admin.get_actions(request)
        ]
    return found + actions  # actions change rows: they run after every page has been seen as seeded


def _custom_views(model_admin, info, row) -> list[Screen]:
    found = []
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None)
        if not name or not hasattr(pattern, "pattern"):
            continue
        view = name.removeprefix("%s_%s_" % info)
        if view in STANDARD_VIEWS or view == name:
            continue
        args = [row.pk] if isinstance(pattern.pattern, RoutePattern) and pattern.pattern.converters else []
        found.append(Screen("%s-%s-%s" % (*info, view.replace("_", "-")), reverse(f"admin:{name}", args=args),
                            "custom"))
    return found
