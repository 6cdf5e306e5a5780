"""No staff member without ``billing.adjust_balance`` changes a balance or what grants coins, through any admin page.

For every registered ModelAdmin a staff member gets every permission the model offers (add, change, delete,
view) and nothing else, then tries every URL of it (changelist, add, change, delete, history and the admin's
own URLs from ``get_urls``) and every action the admin defines, POSTing directly with a valid CSRF token: field
edits that would make a refund pay out (a completed generation set to failed, a charge pointed at another user's
charge), promo codes and packages worth more, permissions granted to themselves. Afterwards every balance, the
ledger, the money definitions and the operators' permissions are as before.
"""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.test import Client
from django.urls import NoReverseMatch, reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType, UserBalance
from broadcasts.models import Broadcast
from payments.models import TopUpPackage
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration, StyleCategory
from promocodes.models import Promokode
from promocodes.services import promo_code_create

pytestmark = pytest.mark.django_db

MODELS = sorted(f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry)
ADJUST = ("billing", "adjust_balance")
CASHIER_PASSWORD = "cashier-password-1"
# Filled in whatever form a URL shows, on top of what the form already holds.
EXTRA = {
    "amount": "1000", "sign": "credit", "reason": "mint", "apply": "1", "post": "yes", "count": "3",
    "prefix": "FREE", "length": "8", "type": "balance", "balance_amount": "100000", "bonus_amount": "100000",
    "discount_percent": "99", "max_uses": "", "max_uses_per_user": "", "is_active": "on", "code": "MINTED",
    "title": "Gift", "stars": "1", "credits": "1000000", "bonus_credits": "1000000", "status": "failed",
    "is_superuser": "on", "is_staff": "on", "password1": "taken-over-1", "password2": "taken-over-1",
    "username": "sleeper", "usable_password": "true",
}


@pytest.fixture
def world(make_user, django_user_model, settings):
    """Users with coins, charged jobs in every state, a Stars payment, codes, a package, the catalogue, a
    broadcast, an operator who may adjust balances and a group that grants it."""
    settings.BOT_API_URL, settings.BOT_TOKEN = "http://127.0.0.1:9", "1:unreachable"  # nothing reaches Telegram
    payer, other = make_user(), make_user()
    for user in (payer, other):
        billing_services.balance_credit(user=user, amount="1000")
    billing_services.balance_credit(user=payer, amount="100", type=TransactionType.TOPUP, idempotency_key="stars:c1",
                                    extra_data={"telegram_payment_charge_id": "c1", "stars": 50})
    # The other user's avatar trained fine: its 150-coin charge stands (the second attack's target).
    trained = Avatar.objects.create(user=other, name="theirs", gender="female", status=AvatarStatus.COMPLETED)
    Avatar.objects.filter(pk=trained.pk).update(charge=_charge(other, "150", avatar_id=trained.pk))
    # A completed generation with its charge (the first attack sets it to failed), a failed one refunded already.
    done = ImageGeneration.objects.create(user=payer, original_prompt="p", final_prompt="p",
                                          status=GenerationStatus.COMPLETED)
    ImageGeneration.objects.filter(pk=done.pk).update(charge=_charge(payer, "40", generation_id=done.pk))
    failed = ImageGeneration.objects.create(user=payer, original_prompt="p", final_prompt="p",
                                            status=GenerationStatus.FAILED)
    charge = _charge(payer, "10", generation_id=failed.pk)
    billing_services.balance_refund(entry=charge)
    ImageGeneration.objects.filter(pk=failed.pk).update(charge=charge)
    broken = Avatar.objects.create(user=payer, name="mine", gender="male", status=AvatarStatus.ERROR)
    charge = _charge(payer, "150", avatar_id=broken.pk)
    billing_services.balance_refund(entry=charge)
    Avatar.objects.filter(pk=broken.pk).update(charge=charge)
    promo_code_create(code="TEN", type="balance", balance_amount=Decimal("10"), max_uses=1)
    promo_code_create(code="OFF", type="balance", balance_amount=Decimal("10"), is_active=False)
    TopUpPackage.objects.create(title="Small", stars=50, credits=Decimal("100"))
    StyleCategory.objects.create(id="cat", name="Category", icon="*")
    Broadcast.objects.create(title="News", text="Hello")
    cashier = django_user_model.objects.create_user(username="cashier", password=CASHIER_PASSWORD, is_staff=True)
    cashier.user_permissions.add(_permission(*ADJUST))
    Group.objects.create(name="cashiers").permissions.add(_permission(*ADJUST))
    Group.objects.create(name="support")
    rows = {"trained": trained, "done": done, "failed": failed, "broken": broken}
    for row in rows.values():
        row.refresh_from_db()
    return {**rows, "cashier": cashier}


def _charge(user, amount, **names) -> Transaction:
    return billing_services.balance_debit(user=user, amount=amount, description="job",
                                          extra_data={k: str(v) for k, v in names.items()})


def _permission(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def _money_state() -> dict:
    """Everything that is money or defines it, and who may move it."""
    operators = get_user_model().objects.order_by("username")
    return {
        "balances": sorted(UserBalance.objects.values_list("user_id", "coins")),
        "ledger": sorted(Transaction.objects.values_list("id", "user_id", "type", "amount", "refund_of_id")),
        # Deactivating or deleting an unused code takes coins off the table: allowed without the permission.
        "codes": {c[0]: c[1:] for c in Promokode.objects.values_list(
            "code", "type", "balance_amount", "bonus_amount", "discount_percent", "max_uses", "max_uses_per_user",
            "valid_from", "valid_until", "is_active")},
        "packages": sorted(TopUpPackage.objects.values_list("pk", "stars", "credits", "bonus_credits")),
        "jobs": sorted([*ImageGeneration.objects.values_list("pk", "user_id", "status", "charge_id"),
                        *Avatar.objects.values_list("pk", "user_id", "status", "charge_id")], key=str),
        "adjusters": sorted(u.username for u in operators if u.has_perm("billing.adjust_balance")),
        "superusers": sorted(u.username for u in operators if u.is_superuser),
        "cashier_password": get_user_model().objects.get(username="cashier").check_password(CASHIER_PASSWORD),
    }


def _staff_with_every_permission_of(label: str, django_user_model, *, actions=None) -> Client:
    app_label, model_name = label.split(".")
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    staff = django_user_model.objects.create_user(username=f"staff-{app_label}-{model_name}", password="pw",
                                                  is_staff=True)
    staff.user_permissions.add(*(
        _permission(app_label, f"{action}_{model_name}") for action in actions or model._meta.default_permissions))
    staff.groups.add(Group.objects.get(name="support"))  # a group without money rights, for now
    assert not staff.has_perm("billing.adjust_balance")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    return client


def _form_data(response) -> dict:
    """What the page's model form and inline formsets hold now, as a browser would post it back."""
    data = {}
    context = response.context or {}
    forms = []
    if context.get("adminform") is not None:
        forms.append(context["adminform"].form)
    for inline in context.get("inline_admin_formsets") or []:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            key = form.add_prefix(name)
            widget = form.fields[name].widget
            if isinstance(widget, MultiWidget):  # e.g. a date and a time field for one datetime
                data |= {f"{key}_{i}": str(part) for i, part in enumerate(widget.decompress(value)) if part}
            elif isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = "on" if value is True else str(value)
    return data


class Attacker:
    """POSTs as the staff member, checking after each request that no money moved (a later request, such as a
    deletion, must not hide what an earlier one did)."""

    def __init__(self, client: Client, world: dict, *, check: bool = True):
        self.client, self.world, self.posts = client, world, 0
        self.before = _money_state() if check else None
        client.get(reverse("admin:index"))  # sets the CSRF cookie (the logout form), as a browser session has it

    def post(self, url: str, data: dict) -> None:
        response = self.client.post(url, {**data, "csrfmiddlewaretoken": self.client.cookies["csrftoken"].value})
        assert not (response.status_code == 403 and b"CSRF" in response.content), url
        self.posts += 1
        if self.before is not None:
            _assert_no_money_moved(self.before, _money_state(), after_what=f"POST {url} {data.get('action', '')}")

    def every_url(self, model_admin) -> None:
        model = model_admin.model
        objects = list(model._default_manager.all())
        # Deletions last, so the other pages still find the rows.
        for pattern in sorted(model_admin.get_urls(), key=lambda p: (p.name or "").endswith("_delete")):
            if not pattern.name:
                continue
            try:
                urls = [reverse(f"admin:{pattern.name}")]
            except NoReverseMatch:
                urls = [reverse(f"admin:{pattern.name}", args=[obj.pk]) for obj in objects]
            for url in urls:
                page = self.client.get(url)
                for overrides in self._overrides(model, url):
                    self.post(url, {**_form_data(page), **EXTRA, **overrides})

    def _overrides(self, model, url: str) -> list[dict]:
        """Field values that would mint coins if the page accepted them (tried one after another)."""
        world = self.world
        if model is ImageGeneration:
            return [{"status": GenerationStatus.FAILED}, {"charge": str(world["trained"].charge_id)}]
        if model is Avatar:
            return [{"status": AvatarStatus.ERROR}, {"charge": str(world["trained"].charge_id)}]
        if model is get_user_model():
            return [{"user_permissions": [str(_permission(*ADJUST).pk)],
                     "groups": [str(Group.objects.get(name="cashiers").pk)]}]
        if model is Group:
            return [{"permissions": [str(_permission(*ADJUST).pk)]}]
        if model is StyleCategory:
            return [{"name": "Renamed"}]
        return [{}]

    def every_action(self, model_admin, changelist: str) -> None:
        pks = [str(pk) for pk in model_admin.model._default_manager.values_list("pk", flat=True)]
        for _function, name, _description in model_admin._get_base_actions():
            for select_across in ("0", "1"):
                self.post(changelist, {**EXTRA, "action": name, "_selected_action": pks, "index": "0",
                                       "select_across": select_across})


@pytest.mark.parametrize("label", MODELS)
def test_every_url_and_action_of_an_admin_leaves_money_alone_without_adjust_balance(
        label, world, django_user_model):
    model_admin = next(a for m, a in admin.site._registry.items() if m._meta.label_lower == label)
    attacker = Attacker(_staff_with_every_permission_of(label, django_user_model), world)
    opts = model_admin.model._meta
    attacker.every_url(model_admin)  # edits first: the actions then meet the rows as edited
    attacker.every_action(model_admin, reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert attacker.client.get(reverse("admin-stats")).status_code in (200, 403)
    assert attacker.posts > 0


def _assert_no_money_moved(before: dict, after: dict, *, after_what: str = "") -> None:
    before, after = dict(before), dict(after)
    for code, terms in after.pop("codes").items():
        unchanged = before["codes"].get(code)
        assert terms in (unchanged, (*(unchanged or ())[:-1], False)), f"promo code {code} after {after_what}"
    before.pop("codes")
    assert after == before, after_what


def test_the_attack_harness_does_change_what_is_not_money(world, django_user_model):
    """The same requests do reach the forms: a style category, which is not money, is renamed by them."""
    model_admin = admin.site._registry[StyleCategory]
    client = _staff_with_every_permission_of("generations.stylecategory", django_user_model, actions=["change"])
    Attacker(client, world, check=False).every_url(model_admin)
    assert StyleCategory.objects.get(pk="cat").name == "Renamed"


def test_a_completed_generation_set_to_failed_by_its_editor_cannot_be_refunded(world, django_user_model):
    client = _staff_with_every_permission_of("generations.imagegeneration", django_user_model)
    done = world["done"]
    change = reverse("admin:generations_imagegeneration_change", args=[done.pk])
    attacker = Attacker(client, world)
    attacker.post(change, {**_form_data(client.get(change)), "status": GenerationStatus.FAILED})
    attacker.post(reverse("admin:generations_imagegeneration_changelist"),
                  {"action": "refund_failed", "_selected_action": [str(done.pk)]})
    done.refresh_from_db()
    assert done.status == GenerationStatus.COMPLETED


def test_a_failed_row_pointed_at_another_users_charge_cannot_refund_it(world, django_user_model):
    client = _staff_with_every_permission_of("generations.imagegeneration", django_user_model)
    failed, trained = world["failed"], world["trained"]
    change = reverse("admin:generations_imagegeneration_change", args=[failed.pk])
    attacker = Attacker(client, world)
    attacker.post(change, {**_form_data(client.get(change)), "charge": str(trained.charge_id)})
    attacker.post(reverse("admin:generations_imagegeneration_changelist"),
                  {"action": "refund_failed", "_selected_action": [str(failed.pk)]})
    assert not Transaction.objects.filter(refund_of_id=trained.charge_id).exists()
