"""Avatars, one router per screen: ``cards`` (the section, the list, main / rename / delete), ``wizard`` (creating
one, up to training) and ``photos`` (uploading and reviewing its photos). Each answers its own errors
(``botworker.router_errors``); what they share is in ``shared``."""

from aiogram import Router

from botworker.routers.avatars import cards, photos, wizard

router = Router(name="avatars")
router.include_routers(cards.router, wizard.router, photos.router)
