"""Writes of avatars, their photos, training and image generation, by capability:

- ``avatars``, ``photos``: the avatar and its training photos;
- ``jobs``: the provider job state machine (submit, poll, complete, fail-and-refund-once), used by every job kind;
- ``training``, ``generation``: the two job kinds (their charge, input, result and refund); ``creation``: what a
  user asks for (a generation with an avatar, Imagen 4 by description);
- ``delivery``: telling the user, once; ``sweep``: restarting lost chains; ``webhook``: FAL's webhook.

The names below are what callers (the bot, the admin, the tasks, the webhook view) use.
"""

from generations.services.avatars import (
    NAME_MAX, NAME_MIN, avatar_create, avatar_delete, avatar_name_clean, avatar_rename, avatar_set_main,
)
from generations.services.common import is_uuid
from generations.services.creation import (
    ASPECT_RATIOS, IMAGEN4_ASPECT_RATIOS, IMAGEN4_PROMPT_MAX, IMAGEN4_PROMPT_MIN, PROMPT_MAX, PROMPT_MIN,
    generation_create, generation_regenerate, imagen_generation_create, imagen_prompt_clean,
)
from generations.services.delivery import avatar_training_notify, generation_deliver
from generations.services.generation import (
    IN_FLIGHT, generation_complete, generation_delete, generation_fail, generation_model_label, generation_poll,
    generation_refund, generation_retry, generation_source_label, generation_submit, generation_toggle_favorite,
)
from generations.services.jobs import Kind, Next, Step, job_step_due, provider_outage_report
from generations.services.photos import EDITABLE_STATUSES, avatar_photo_add, avatar_photo_delete
from generations.services.sweep import jobs_resume_stuck
from generations.services.training import (
    avatar_training_complete, avatar_training_fail, avatar_training_poll, avatar_training_refund,
    avatar_training_start, avatar_training_submit,
)
from generations.services.webhook import provider_webhook_handle, provider_webhook_receive
from generations.services.webhook_urls import webhook_path_token, webhook_path_token_valid, webhook_url

__all__ = [
    "ASPECT_RATIOS", "EDITABLE_STATUSES", "IMAGEN4_ASPECT_RATIOS", "IMAGEN4_PROMPT_MAX", "IMAGEN4_PROMPT_MIN",
    "IN_FLIGHT", "NAME_MAX", "NAME_MIN", "PROMPT_MAX", "PROMPT_MIN", "Kind", "Next", "Step",
    "avatar_create", "avatar_delete", "avatar_name_clean", "avatar_photo_add", "avatar_photo_delete",
    "avatar_rename", "avatar_set_main", "avatar_training_complete", "avatar_training_fail", "avatar_training_notify",
    "avatar_training_poll", "avatar_training_refund", "avatar_training_start", "avatar_training_submit",
    "generation_complete", "generation_create", "generation_deliver", "generation_delete", "generation_fail", "generation_model_label", "generation_source_label",
    "generation_poll", "generation_refund", "generation_regenerate", "generation_retry", "generation_submit",
    "generation_toggle_favorite", "imagen_generation_create", "imagen_prompt_clean", "is_uuid", "job_step_due",
    "jobs_resume_stuck", "provider_outage_report", "provider_webhook_handle", "provider_webhook_receive",
    "webhook_path_token", "webhook_path_token_valid", "webhook_url",
]
