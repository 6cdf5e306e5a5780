from decimal import Decimal

from django.db import migrations

# The earlier service's packages (coins + bonus), priced one Telegram Star per coin.
PACKAGES = [
    ("Старт", 150, Decimal("150"), Decimal("0")),
    ("Популярный", 250, Decimal("250"), Decimal("25")),
    ("Выгодный", 500, Decimal("500"), Decimal("70")),
    ("Максимум", 1000, Decimal("1000"), Decimal("200")),
]


def seed(apps, schema_editor):
    TopUpPackage = apps.get_model("billing", "TopUpPackage")
    if TopUpPackage.objects.exists():
        return
    for order, (title, stars, credits, bonus) in enumerate(PACKAGES, start=1):
        TopUpPackage.objects.create(title=title, stars=stars, credits=credits, bonus_credits=bonus, sort_order=order)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_project_tables_and_constraints")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
