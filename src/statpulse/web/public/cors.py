"""The one CORS rule of the public, cookie-less documents (Statuspage JSON, badges, the widget).

They are the same for every visitor and carry no session, so any origin may read them with a
plain ``GET``: ``Access-Control-Allow-Origin: *`` and never ``Access-Control-Allow-Credentials``
(browsers refuse ``*`` with credentials, and nothing here needs them). ``GET`` without custom
headers is a "simple" request: no preflight, so no ``OPTIONS`` route is needed.
"""

from __future__ import annotations

from typing import Final

PUBLIC_CORS: Final = {"Access-Control-Allow-Origin": "*"}
"""Headers for every answer (200, 304, 404) of a public document readable from any origin."""
