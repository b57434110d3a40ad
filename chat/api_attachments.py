"""Images in a live chat over HTTP (the socket carries JSON text only): a consumer's upload (their chat token),
an agent's upload (their admin session), and the download both sides read the image from.

    POST /api/chat/attachments/            consumer, ``Authorization: Chat-Token <token>``: image, key
    POST /api/chat/console/attachments/    agent, session + CSRF: chat, image, key
    GET  /api/chat/attachments/<message>/  the consumer of the chat (token, header or ?token=), or staff who
                                           read chats within their tenancy

See docs/chat-protocol.md, *Images*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import attachments, selectors
from chat.conversation import ChatError, message_frame
from chat.models import ChatAttachment
from chat.tokens import ChatToken, read_chat_token
from core.api import service_errors
from core.files import ranged_file_response
from core.parsers import MultiPartParser as BoundedMultiPartParser

# A ChatError's code → the status it answers with (anything else is the client's mistake: 400).
STATUSES = {"not_found": status.HTTP_404_NOT_FOUND, "not_yours": status.HTTP_403_FORBIDDEN,
            "no_chat": status.HTTP_409_CONFLICT}  # fmt: skip


class ChatTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Chat-Token <token>`` (or ``?token=`` on a GET, for an ``<img>``): a consumer, not a user."""

    keyword = "Chat-Token"

    def authenticate(self, request: Request) -> tuple[Any, ChatToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, given = header.partition(" ")
        if scheme != self.keyword:
            given = request.query_params.get("token", "") if request.method == "GET" else ""
            if not given:
                return None
        token = read_chat_token(given.strip())
        if token is None:
            raise exceptions.AuthenticationFailed(_("This chat link is invalid or has expired."))
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ChatTokenScheme(OpenApiAuthenticationExtension):
    """Documents the consumer's chat token in the OpenAPI schema."""

    target_class = "chat.api_attachments.ChatTokenAuthentication"
    name = "ChatToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Chat-Token <a consumer's chat token>"}  # fmt: skip


class IsChatConsumer(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ChatToken)


class UsesConsole(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, User) and selectors.may_use_console(user)


class ConsumerImageForm(serializers.Serializer[Any]):
    image = serializers.FileField(help_text=_("A JPEG, PNG, WebP or GIF image."))
    key = serializers.CharField(
        max_length=64, help_text=_("Idempotency key: a retry with the same key sends nothing twice.")
    )


class AgentImageForm(ConsumerImageForm):
    chat = serializers.IntegerField(min_value=1, help_text=_("The live chat's id."))


SENT = inline_serializer("ChatImageSent", {"chat": serializers.IntegerField(), "id": serializers.IntegerField(),
                                            "message": serializers.DictField()})  # fmt: skip


def _sent(attachment: ChatAttachment, created: bool) -> Response:
    event = attachment.event
    author = event.author
    name = (author.first_name or author.get_username()) if author is not None else ""
    frame = message_frame(attachment.chat, event, name)
    body = {"chat": attachment.chat_id, "id": event.pk, "message": frame["message"]}
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


Sent = tuple[ChatAttachment, bool]


def _call(service: Callable[..., Sent], *args: Any, **kwargs: Any) -> Sent:
    """Run the service: a refused chat action answers with its protocol code, a bad image 400 naming ``image``."""
    with service_errors():
        try:
            return service(*args, **kwargs)
        except ChatError as error:
            refused = exceptions.APIException(" ".join(error.messages), code=error.error_code)
            refused.status_code = STATUSES.get(error.error_code, status.HTTP_400_BAD_REQUEST)
            raise refused from None


class ConsumerImageView(APIView):
    authentication_classes = [ChatTokenAuthentication]
    permission_classes = [IsChatConsumer]
    parser_classes = [BoundedMultiPartParser]

    @extend_schema(
        summary=_("Send an image into the consumer's live chat"),
        request={"multipart/form-data": ConsumerImageForm},
        responses={
            201: SENT,
            200: SENT,
            400: OpenApiResponse(description=_("Not an image, too big or damaged.")),
            401: OpenApiResponse(description=_("No valid chat token.")),
            409: OpenApiResponse(description=_("No open chat.")),
        },
    )
    def post(self, request: Request) -> Response:
        form = ConsumerImageForm(data=request.data)
        form.is_valid(raise_exception=True)
        token = request.auth
        assert isinstance(token, ChatToken)  # IsChatConsumer let it through
        return _sent(*_call(attachments.consumer_image, token.consumer_id, form.validated_data["image"],
                            key=form.validated_data["key"], shop_id=token.shop_id))  # fmt: skip


class AgentImageView(APIView):
    authentication_classes = [authentication.SessionAuthentication]
    permission_classes = [UsesConsole]
    parser_classes = [BoundedMultiPartParser]

    @extend_schema(
        summary=_("Send an image into a chat the agent holds"),
        request={"multipart/form-data": AgentImageForm},
        responses={
            201: SENT,
            200: SENT,
            400: OpenApiResponse(description=_("Not an image, too big or damaged.")),
            403: OpenApiResponse(description=_("Not the agent's chat.")),
            404: OpenApiResponse(description=_("No such chat.")),
        },
    )
    def post(self, request: Request) -> Response:
        form = AgentImageForm(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        return _sent(*_call(attachments.agent_image, data["chat"], request.user, data["image"], key=data["key"]))


class AttachmentView(APIView):
    authentication_classes = [ChatTokenAuthentication, authentication.SessionAuthentication]
    permission_classes: list[type[BasePermission]] = []

    @extend_schema(
        summary=_("Read a chat image"),
        responses={
            (200, "image/*"): OpenApiResponse(description=_("The image.")),
            401: OpenApiResponse(description=_("No valid chat token or session.")),
            403: OpenApiResponse(description=_("Staff whose role does not read chats.")),
            404: OpenApiResponse(description=_("No such image for this reader.")),
        },
    )
    def get(self, request: Request, message: int) -> HttpResponseBase:
        found = _readable(request, message)
        if found is None:
            raise exceptions.NotFound(_("There is no such image."))
        response = ranged_file_response(request, found.file, found.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        response["Cache-Control"] = "private, max-age=3600"
        return response


def _readable(request: Request, message: int) -> ChatAttachment | None:
    """The image of ``message`` as its reader may see it (the consumer by token, staff by session); None: not theirs."""
    if isinstance(request.auth, ChatToken):
        return attachments.attachment_for_consumer(message, request.auth.consumer_id)
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    if not attachments.may_read_attachments(request.user):
        raise exceptions.PermissionDenied()
    return attachments.attachment_for_staff(message, request.user)
