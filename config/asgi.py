"""HTTP and WebSocket entry point (daphne in development, any ASGI server in production)."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.sockets import TryAgainWhenLayerDown  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Outermost: a socket whose channel layer (Redis) is down is closed with 4503, not a 500 or a 1011.
        "websocket": TryAgainWhenLayerDown(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# What is loaded by now (Django, the bot's dictionaries and search index) lives as long as the process: it is frozen
# out of the garbage collector's scans, which otherwise walk it again and again (about 6 % of a busy chat process).
gc.freeze()
