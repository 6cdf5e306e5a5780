"""Error handlers that belong to one router: ``@router.error(ExceptionTypeFilter(NotFound), ...)`` answers what that
router's own handlers raise, and nothing another router raises.

aiogram asks error handlers from the dispatcher down (``ErrorsMiddleware`` on the dispatcher only), so on its own a
router's error handler would answer every router's errors, and the dispatcher's catch-all (``botworker.dispatcher``)
would answer them all first. ``own_errors(router)`` adds an inner middleware to the router's message and callback
handlers that offers an exception to the router's error handlers first::

    router = own_errors(Router(name="gallery"))

    @router.error(ExceptionTypeFilter(NotFound), F.update.callback_query.as_("callback"))
    async def not_found(event: ErrorEvent, callback: CallbackQuery) -> None:
        await callback.answer(_("Изображение не найдено."), show_alert=True)

What no handler of the router takes (an infrastructure failure: only domain errors are filtered for) is raised on
unchanged, to the dispatcher's error handling.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import ErrorEvent, TelegramObject


class OwnErrorsMiddleware(BaseMiddleware):
    def __init__(self, router: Router):
        self.router = router

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                        event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except Exception as error:
            response = await self.router.errors.trigger(
                ErrorEvent(update=data["event_update"], exception=error), **data)
            if response is UNHANDLED:
                raise
            return response


def own_errors(router: Router) -> Router:
    """``router`` with its error handlers answering its own message and callback handlers' errors."""
    for observer in (router.message, router.callback_query):
        observer.middleware(OwnErrorsMiddleware(router))
    return router
