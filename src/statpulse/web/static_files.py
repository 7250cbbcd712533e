"""``/static``: the pages' shared style sheet, script and icon, with a cache lifetime.

Starlette's ``StaticFiles`` sends an ETag and Last-Modified but no ``Cache-Control``, so a
browser revalidates every file on every visit (a round trip before the render-blocking style
sheet may be reused). ``StaticAssets`` adds a lifetime of an hour: repeat visits within it
reuse the files without asking, later ones revalidate with the ETag (a 304, no body).

The URLs carry no version (the static snapshot export maps ``/static/NAME`` to a file of that
name, web/public/snapshot.py), hence no year-long ``immutable``: after an upgrade a visitor
sees the new files within the hour.
"""

from __future__ import annotations

import os
from typing import Final

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

CACHE_CONTROL: Final = "public, max-age=3600"


class StaticAssets(StaticFiles):
    """``StaticFiles`` whose responses (200 and 304 alike) carry :data:`CACHE_CONTROL`."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response
