"""A user's page in full: ``accounts.admin.UserAdmin`` (profile, block, "Send a message") with the parts of the
apps above accounts, each kept where its model lives: balance, ledger and "Adjust balance" (``billing``), avatars
and generations (``generations``), promo code activations (``promocodes``). ``backoffice`` sits above all apps, so
it is the one place that may import them all; ``accounts`` imports none of them. Registered by ``backoffice.admin``."""

from django.contrib import admin

from accounts.admin import UserAdmin as ProfileAdmin
from accounts.models import User
from billing.balance_admin import BalanceUserAdminMixin, RecentLedgerInline
from generations.user_admin import UserAvatarsInline, UserGenerationsInline
from promocodes.models import PromokodeUsage
from promocodes.usage_admin import PromokodeUsageAdmin, UserPromoUsagesInline


class UserAdmin(BalanceUserAdminMixin, ProfileAdmin):
    inlines = (RecentLedgerInline, UserAvatarsInline, UserGenerationsInline, UserPromoUsagesInline)


def register(site: admin.AdminSite) -> None:
    """Replace the accounts app's users admin by the full one; add the promo code activations' list."""
    if site.is_registered(User):
        site.unregister(User)
    site.register(User, UserAdmin)
    if not site.is_registered(PromokodeUsage):
        site.register(PromokodeUsage, PromokodeUsageAdmin)
