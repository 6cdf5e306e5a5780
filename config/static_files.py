"""WhiteNoise (the admin's static files served by the web process) as an async-capable middleware.

WhiteNoise's own middleware is sync-only, so under ASGI Django adapts the whole stack around it: every request,
the Telegram webhook's included, pays two thread hops (``sync_to_async`` into it, ``async_to_sync`` back to the
async views). Finding a static file is a dict lookup (a file-system search only with autorefresh, in DEBUG), so the
async path does it inline and hands only a hit (or the search) to a thread.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=django_settings):
        super().__init__(get_response, settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
