"""Restarting what a worker restart lost: poll chains, deliveries and notices."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration
from generations.services.generation import IN_FLIGHT
from generations.services.jobs import Kind, Next, Step, job_queue


def jobs_resume_stuck() -> dict:
    """Re-start the poll chains that died (worker restart) and the deliveries that never happened. Only jobs
    this project started (charged, or with our deadline): rows of an adopted legacy database were never
    charged here, so they are neither sent to FAL nor told "balance restored"."""
    ours_training = Q(charge__isnull=False) | Q(training_deadline__isnull=False)
    ours_generation = Q(charge__isnull=False) | Q(deadline__isnull=False)
    stale = timezone.now() - timedelta(seconds=settings.FAL_STUCK_AFTER)
    counts = {"trainings": 0, "generations": 0, "deliveries": 0, "notices": 0}
    for pk in Avatar.objects.filter(ours_training, status=AvatarStatus.TRAINING).filter(
            Q(last_status_check__lt=stale) | Q(last_status_check__isnull=True)).values_list("pk", flat=True):
        Avatar.objects.filter(pk=pk).update(last_status_check=timezone.now())
        job_queue(Next(Kind.TRAINING, Step.POLL, str(pk)))
        counts["trainings"] += 1
    for pk in ImageGeneration.objects.filter(ours_generation, status__in=IN_FLIGHT).filter(
            Q(last_status_check__lt=stale) | Q(last_status_check__isnull=True)).values_list("pk", flat=True):
        ImageGeneration.objects.filter(pk=pk).update(last_status_check=timezone.now())
        job_queue(Next(Kind.GENERATION, Step.POLL, str(pk)))
        counts["generations"] += 1
    for pk in ImageGeneration.objects.filter(
            ours_generation, status__in=(GenerationStatus.COMPLETED, GenerationStatus.FAILED),
            delivered_at__isnull=True, delivery_claimed_at__isnull=True,
            completed_at__lt=stale).values_list("pk", flat=True):
        job_queue(Next(Kind.GENERATION, Step.FINISH, str(pk)))
        counts["deliveries"] += 1
    for pk in Avatar.objects.filter(status__in=(AvatarStatus.COMPLETED, AvatarStatus.ERROR), notified_at__isnull=True,
                                    last_status_check__lt=stale, charge__isnull=False).values_list("pk", flat=True):
        job_queue(Next(Kind.TRAINING, Step.FINISH, str(pk)))
        counts["notices"] += 1
    return counts
