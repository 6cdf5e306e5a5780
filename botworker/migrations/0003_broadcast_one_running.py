from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('botworker', '0002_broadcast_send_schedule'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='broadcast',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'running')), fields=('status',),
                                               name='bot_broadcast_one_running'),
        ),
    ]
