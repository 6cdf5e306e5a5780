from django.db import migrations

MOVED = ("topuppackage", "flaggedpayment")


def _relabel(apps, old: str, new: str) -> None:
    """Hand the moved models' content types to their new app, so the permissions operators were granted on them
    (and the admin's history of them) follow the models. Nothing to do on a fresh database: the content types are
    created after the migrations."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _relabel(apps, "billing", "payments")


def backwards(apps, schema_editor):
    _relabel(apps, "payments", "billing")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('payments', '0001_initial'),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
