"""Take FAL_WEBHOOK_SECRET out of stored rows.

Until now the webhook path was the secret itself, so ``avatars.webhook_url`` held it, and error texts of failed
submissions (``training_error``, ``error_message``) could hold the submit URL whose ``?fal_webhook=`` query named
it. The path segment becomes the token derived from it (what ``generations.services.webhook_path_token`` now
puts there; the derivation is frozen here), and the query is cut from error texts.
"""

import hashlib
import re

from django.db import migrations

PATH_SEGMENT = re.compile(r"/fal/webhook/([^/?#\s]+)/")
WEBHOOK_QUERY = re.compile(r"\?fal_webhook=[^\s:]*")


def _path_token(secret: str) -> str:
    return hashlib.sha256(f"aisha-fal-webhook-path:{secret}".encode()).hexdigest()[:32]


def _rewrite(model, field: str, marker: str, change) -> None:
    for pk, value in model.objects.filter(**{f"{field}__contains": marker}).values_list("pk", field).iterator():
        new = change(value)
        if new != value:
            model.objects.filter(pk=pk).update(**{field: new})


def forward(apps, schema_editor):
    Avatar = apps.get_model("generations", "Avatar")
    ImageGeneration = apps.get_model("generations", "ImageGeneration")
    _rewrite(Avatar, "webhook_url", "/fal/webhook/",
             lambda url: PATH_SEGMENT.sub(lambda m: f"/fal/webhook/{_path_token(m.group(1))}/", url))
    _rewrite(Avatar, "training_error", "fal_webhook=", lambda text: WEBHOOK_QUERY.sub("", text))
    _rewrite(ImageGeneration, "error_message", "fal_webhook=", lambda text: WEBHOOK_QUERY.sub("", text))


class Migration(migrations.Migration):

    dependencies = [
        ("generations", "0005_generation_request_token"),
    ]

    operations = [
        migrations.RunPython(forward, migrations.RunPython.noop, elidable=True),
    ]
