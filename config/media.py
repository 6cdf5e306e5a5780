"""Media files (users' avatar photos, generated images, broadcast photos) for the operators' admin.

They are personal data under guessable names (``avatar-photos/<avatar id>/...``, ``generations/<id>/1.png``), so
they are never public: this view serves a file only to a logged-in staff member (anyone else is sent to the admin's
login). With ``MEDIA_ACCEL_REDIRECT`` set (behind nginx, see deploy/nginx-aisha.conf) the view only checks and
answers with ``X-Accel-Redirect``, and nginx sends the file from its ``internal`` location; without it (``bash
scripts/run``, a small deployment) the web process streams the file itself. With an object store
(``FILE_STORAGE_BACKEND``, see the README) files are served by the store under signed URLs and this view is unused.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.static import serve


def media_serve(request, path: str):
    if not (request.user.is_active and request.user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    parts = PurePosixPath(path).parts
    if not parts or any(part in ("..", "/") for part in parts):
        raise Http404
    if settings.MEDIA_ACCEL_REDIRECT:
        response = HttpResponse()
        del response["Content-Type"]  # nginx sets the file's own type
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT.rstrip("/") + "/" + quote("/".join(parts))
        return response
    response = serve(request, "/".join(parts), document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "private, max-age=3600"
    return response
