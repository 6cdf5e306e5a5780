"""The bot's feature routers, in the order the dispatcher tries them.

Each module named here defines ``create_router() -> aiogram.Router`` (a fresh router per dispatcher, so tests can
build many). To add a feature, add ONE line with its module path below. The fallback router (unknown callbacks
and text) is not in this list: ``create_dispatcher`` always includes it LAST.
"""

from importlib import import_module

from aiogram import Router

FEATURE_ROUTER_MODULES = (
    "botworker.routers.start",
    "botworker.routers.balance",
    "botworker.routers.payments",
    "botworker.routers.refunds",
    "botworker.routers.promo",
    "botworker.routers.avatars",
    "botworker.routers.generation",
    "botworker.routers.imagen",
    "botworker.routers.gallery",
)

FALLBACK_ROUTER_MODULE = "botworker.routers.fallback"


def feature_routers() -> list[Router]:
    return [import_module(path).create_router() for path in FEATURE_ROUTER_MODULES]


def fallback_router() -> Router:
    return import_module(FALLBACK_ROUTER_MODULE).create_router()
