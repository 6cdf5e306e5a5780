import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def seed_from_last_activity(apps, schema_editor):
    """Each user's last known active day, so the monthly and weekly figures do not start from nothing."""
    User = apps.get_model("accounts", "User")
    UserActivity = apps.get_model("accounts", "UserActivity")
    seen = User.objects.filter(last_activity_at__isnull=False).values_list("pk", "last_activity_at")
    batch = []
    for user_id, last_activity_at in seen.iterator(chunk_size=2000):
        batch.append(UserActivity(user_id=user_id, day=timezone.localdate(last_activity_at)))
        if len(batch) >= 2000:
            UserActivity.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    UserActivity.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_verbose_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='UserActivity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='activity_days', to='accounts.user', verbose_name='user')),
            ],
            options={
                'verbose_name': 'active day',
                'verbose_name_plural': 'active days',
                'db_table': 'user_activity_days',
                'indexes': [models.Index(fields=['day'], name='user_activity_days_day_idx')],
                'constraints': [models.UniqueConstraint(fields=('user', 'day'), name='user_activity_days_user_day_uniq')],
            },
        ),
        # Undone with the table itself.
        migrations.RunPython(seed_from_last_activity, migrations.RunPython.noop),
    ]
