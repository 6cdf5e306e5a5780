from django.db import migrations


class Migration(migrations.Migration):
    """TopUpPackage and FlaggedPayment moved to the payments app (payments.0001 takes them over): they leave
    billing's migration state only; their tables stay as they are."""

    dependencies = [
        ('billing', '0005_verbose_names'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='FlaggedPayment'),
                migrations.DeleteModel(name='TopUpPackage'),
            ],
            database_operations=[],
        ),
    ]
