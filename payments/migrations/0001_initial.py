import django.utils.timezone
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):
    """Takes over TopUpPackage and FlaggedPayment from billing (billing.0006) with their tables, which billing's
    migrations created and filled: the models enter payments' migration state only, no table is touched."""

    initial = True

    dependencies = [
        ('billing', '0006_move_packages_and_flagged_payments_to_payments'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='FlaggedPayment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('telegram_payment_charge_id', models.CharField(max_length=255, unique=True, verbose_name='charge id')),
                        ('payer_telegram_id', models.BigIntegerField(verbose_name='payer (Telegram id)')),
                        ('payload', models.TextField(blank=True, default='', verbose_name='invoice payload')),
                        ('currency', models.CharField(max_length=8, verbose_name='currency')),
                        ('total_amount', models.BigIntegerField(verbose_name='amount paid')),
                        ('reason', models.CharField(max_length=300, verbose_name='reason')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='when')),
                    ],
                    options={
                        'verbose_name': 'flagged payment',
                        'verbose_name_plural': 'flagged payments',
                        'db_table': 'flagged_payments',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='TopUpPackage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=64, verbose_name='title')),
                        ('stars', models.PositiveIntegerField(verbose_name='price in Telegram Stars')),
                        ('credits', models.DecimalField(decimal_places=2, max_digits=14, verbose_name='coins')),
                        ('bonus_credits', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=14, verbose_name='bonus coins')),
                        ('is_active', models.BooleanField(default=True, verbose_name='active')),
                        ('sort_order', models.PositiveIntegerField(default=0, verbose_name='order')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                    ],
                    options={
                        'verbose_name': 'top-up package',
                        'verbose_name_plural': 'top-up packages',
                        'db_table': 'topup_packages',
                        'ordering': ['sort_order', 'stars'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('stars__gt', 0)), name='topup_packages_stars_positive'), models.CheckConstraint(condition=models.Q(('credits__gt', 0)), name='topup_packages_credits_positive')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
