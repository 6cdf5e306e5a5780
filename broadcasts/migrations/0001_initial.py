import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """The models of ``bot_broadcasts`` and ``bot_broadcast_recipients``, which the bot worker's migrations created
    (botworker 0001-0004; 0006 gave their fields the labels they have here), enter this app's state; the database is
    not touched (botworker 0007 takes them out of that app's state)."""

    initial = True

    dependencies = [
        ('accounts', '0002_project_tables_and_constraints'),
        ('botworker', '0006_verbose_names'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Broadcast',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200, verbose_name='title')),
                        ('text', models.TextField(help_text='Telegram HTML: <b>, <i>, <a href>, <code>...', verbose_name='text')),
                        ('photo', models.ImageField(blank=True, null=True, upload_to='broadcasts/', verbose_name='photo')),
                        ('button_text', models.CharField(blank=True, default='', max_length=64, verbose_name='button text')),
                        ('button_url', models.URLField(blank=True, default='', verbose_name='button link')),
                        ('audience', models.CharField(choices=[('all', 'All users'), ('premium', 'Telegram Premium users'), ('with_balance', 'Users with a positive balance'), ('inactive', 'Inactive for N days'), ('telegram_ids', 'A list of Telegram ids')], default='all', max_length=20, verbose_name='audience')),
                        ('inactive_days', models.PositiveIntegerField(blank=True, null=True, verbose_name='inactive for days')),
                        ('telegram_ids', models.TextField(blank=True, default='', help_text='For the list audience: ids separated by spaces, commas or lines.', verbose_name='Telegram ids')),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('running', 'Running'), ('paused', 'Paused'), ('cancelled', 'Cancelled'), ('completed', 'Completed')], default='draft', max_length=16, verbose_name='status')),
                        ('task_id', models.CharField(blank=True, default='', help_text='The last delivery task.', max_length=64, verbose_name='delivery task id')),
                        ('created_by', models.CharField(blank=True, default='', max_length=150, verbose_name='created by')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                        ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('next_slot_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('photo_file_id', models.CharField(blank=True, default='', editable=False, max_length=255)),
                        ('last_error', models.TextField(blank=True, default='', editable=False, verbose_name='last error')),
                    ],
                    options={
                        'verbose_name': 'broadcast',
                        'verbose_name_plural': 'broadcasts',
                        'db_table': 'bot_broadcasts',
                        'ordering': ['-created_at'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'running')), fields=('status',), name='bot_broadcast_one_running')],
                    },
                ),
                migrations.CreateModel(
                    name='BroadcastRecipient',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('telegram_id', models.BigIntegerField(verbose_name='Telegram id')),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed'), ('blocked', 'Blocked the bot')], default='pending', max_length=16, verbose_name='status')),
                        ('error', models.CharField(blank=True, default='', max_length=500, verbose_name='error')),
                        ('message_id', models.BigIntegerField(blank=True, null=True, verbose_name='message id')),
                        ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                        ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                        ('broadcast', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='recipients', to='broadcasts.broadcast', verbose_name='broadcast')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='broadcast_deliveries', to='accounts.user', verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'broadcast recipient',
                        'verbose_name_plural': 'broadcast recipients',
                        'db_table': 'bot_broadcast_recipients',
                        'indexes': [models.Index(fields=['broadcast', 'status'], name='bot_broadcast_rcpt_status_idx')],
                        'constraints': [models.UniqueConstraint(fields=('broadcast', 'user'), name='bot_broadcast_recipient_once')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
