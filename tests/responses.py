"""The test client's response type: an HttpResponse with what the client adds (json(), context, templates...).

django-stubs names it only privately, and it does not exist at run time, so import it for annotations:
``if TYPE_CHECKING: from tests.responses import TestResponse``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

__all__ = ["TestResponse"]
