"""The bot's feature routers, in the order the dispatcher tries them.

Each module here defines a module-level ``router`` with its handlers registered beside their code (aiogram joins a
router to one parent only, so ``botworker.dispatcher`` builds the dispatcher once per process). To add a feature,
import its module and add its router below. The fallback router (unknown callbacks and text) is not in that list:
the dispatcher always includes it LAST. Routers import their buttons from ``botworker.callbacks`` and never import
each other (``tests/botworker/test_layout.py``).
"""

from aiogram import Router

from botworker.routers import avatars, balance, fallback, gallery, generation, imagen, payments, promo, refunds, start

FEATURE_ROUTERS = (
    start.router,
    balance.router,
    payments.router,
    refunds.router,
    promo.router,
    avatars.router,
    generation.router,
    imagen.router,
    gallery.router,
)


def feature_routers() -> list[Router]:
    return list(FEATURE_ROUTERS)


def fallback_router() -> Router:
    return fallback.router
