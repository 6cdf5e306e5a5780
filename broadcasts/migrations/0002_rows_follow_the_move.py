from django.db import migrations

OLD, NEW = "botworker", "broadcasts"
MODELS = ("broadcast", "broadcastrecipient")
TASKS = ("broadcast_deliver", "broadcasts_resume_running")


def _move_content_types(apps, source: str, target: str) -> None:
    """The permissions granted on the models (operators' groups) and the admin's history of their rows hang on their
    content types: rename those rather than let new ones be created beside them. A content type already present
    under the target label (a partial migration run) is left alone, and so is the source's then."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def _rename_tasks(apps, source: str, target: str) -> None:
    """A worker imports a queued task by its path: links queued before the deploy (and sweeps, and results that the
    delivery chain looks up by path) move with the tasks."""
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for name in TASKS:
        DBTaskResult.objects.filter(task_path=f"{source}.tasks.{name}").update(task_path=f"{target}.tasks.{name}")


def forwards(apps, schema_editor):
    _move_content_types(apps, OLD, NEW)
    _rename_tasks(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _move_content_types(apps, NEW, OLD)
    _rename_tasks(apps, NEW, OLD)


class Migration(migrations.Migration):
    """Rows that name the broadcast models or tasks by their old app (``botworker``) follow them here."""

    dependencies = [
        ('broadcasts', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('django_tasks_database', '0021_conditional_partial_index_ordering'),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
