"""The staff events socket: a logged-in staff user receives the events sent to them and their roles."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext

from core.realtime import role_group, user_group
from core.users import Actor, RequestUser

# Close codes in the 4000 range are ours (see docs/ARCHITECTURE.md).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# The channel layer (Redis) is down: reconnect with backoff (WebSocket's own 1013, which daphne cannot send).
CLOSE_TRY_AGAIN = 4503


def groups_of(user: Actor, roles: list[str]) -> list[str]:
    """The groups whose events a staff user's socket receives: their own and each of their roles'."""
    groups = [user_group(user.pk)] + [role_group(r) for r in roles]
    if user.is_superuser:  # superusers hold every role's rights, and see what supervisors see
        groups.append(role_group("superuser"))
    return groups


class EventsConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        roles = await self._roles(user)
        if not roles and not user.is_superuser:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self._join(groups_of(user, roles))
        await self.send_json({"type": "hello", "data": {"user": user.get_username(), "roles": roles}})

    async def _join(self, groups: list[str]) -> None:
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # A malformed frame is answered, never allowed to crash the socket.
        if text_data is None:
            await self._error("bad_frame", gettext("Frames must be JSON text."))
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self._error("bad_frame", gettext("Frames must be JSON text."))
            return
        await self.receive_json(content)

    async def _error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "data": {"code": code, "detail": detail}})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # This socket only pushes; anything a client sends is answered with an error, not a crash.
        await self._error("read_only", gettext("This socket only sends events."))

    async def event_message(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": message["event"], "data": message["data"]})

    @staticmethod
    async def _roles(user: RequestUser) -> list[str]:
        names = []
        async for name in user.groups.order_by("name").values_list("name", flat=True):
            names.append(name)
        return names
