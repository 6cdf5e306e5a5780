from django.db import migrations


class Migration(migrations.Migration):
    """Broadcasts moved to the ``broadcasts`` app (its 0001 takes over the models): the models leave this app's state
    only; their tables, rows, constraints and indexes stay as they are."""

    dependencies = [
        ('botworker', '0006_verbose_names'),
        ('broadcasts', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='broadcastrecipient',
                    name='broadcast',
                ),
                migrations.RemoveField(
                    model_name='broadcastrecipient',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='Broadcast',
                ),
                migrations.DeleteModel(
                    name='BroadcastRecipient',
                ),
            ],
            database_operations=[],
        ),
    ]
