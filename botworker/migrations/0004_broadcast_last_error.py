from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('botworker', '0003_broadcast_one_running'),
    ]

    operations = [
        migrations.AddField(
            model_name='broadcast',
            name='last_error',
            field=models.TextField(blank=True, default='', editable=False, verbose_name='last error'),
        ),
    ]
