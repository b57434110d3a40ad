"""POST /api/chat/tokens/: a trusted caller (staff who may issue tokens, or the platform's API key) gets a
consumer's chat token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.selectors import chat_shop_id
from chat.tokens import issue_token, platform_key_matches
from crm.models import Consumer

PLATFORM = "platform-api-key"


class PlatformKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``: the platform itself, not a user. A wrong key is refused outright."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, str] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, key = header.partition(" ")
        if scheme != self.keyword:
            return None
        if not platform_key_matches(key.strip()):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        return AnonymousUser(), PLATFORM

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class PlatformKeyScheme(OpenApiAuthenticationExtension):
    """Documents the platform's API key in the OpenAPI schema."""

    target_class = "chat.api.PlatformKeyAuthentication"
    name = "PlatformApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Api-Key <CHAT_PLATFORM_API_KEY>"}  # fmt: skip


class MayIssueTokens(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth == PLATFORM:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("chat.issue_chat_token"))


class TokenRequestSerializer(serializers.Serializer[Any]):
    consumer = serializers.CharField(max_length=32, help_text=_("The consumer's external id."))
    shop = serializers.CharField(
        max_length=32, required=False, allow_blank=True,
        help_text=_("A shop's merchant code: the chat is with that shop (its bot, its staff). Blank: the platform."),
    )  # fmt: skip

    def validate_shop(self, value: str) -> int | None:
        """The shop's id; refused when no shop has this code or the shop takes no chats."""
        if not value.strip():
            return None
        shop_id = chat_shop_id(value)
        if shop_id is None:
            raise serializers.ValidationError(_("There is no shop with this code that takes chats."))
        return shop_id


class ChatTokenView(APIView):
    authentication_classes = [PlatformKeyAuthentication, authentication.SessionAuthentication]
    permission_classes = [MayIssueTokens]

    @extend_schema(
        summary=_("Issue a consumer's chat token"),
        description=_(
            "A signed token that identifies the consumer to the chat socket (/ws/chat/?token=...), valid for"
            " CHAT_TOKEN_MAX_AGE seconds. For the platform (header “Authorization: Api-Key <key>”) or staff"
            " who may issue chat tokens. See docs/chat-protocol.md."
        ),
        request=TokenRequestSerializer,
        responses={
            201: inline_serializer(
                "ChatToken",
                {
                    "token": serializers.CharField(),
                    "expires_in": serializers.IntegerField(),
                    "consumer": serializers.CharField(),
                    "shop": serializers.CharField(allow_null=True),
                    "socket": serializers.CharField(),
                },
            ),
            400: OpenApiResponse(description=_("No such consumer.")),
        },
    )
    def post(self, request: Request) -> Response:
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        consumer_id = (
            Consumer.objects.filter(external_id=form.validated_data["consumer"]).values_list("pk", flat=True).first()
        )
        if consumer_id is None:
            raise serializers.ValidationError({"consumer": [_("There is no consumer with this external id.")]})
        shop_id = form.validated_data.get("shop")
        token = issue_token(consumer_id, shop_id)
        return Response(
            {"token": token, "expires_in": settings.CHAT_TOKEN_MAX_AGE, "consumer": form.validated_data["consumer"],
             "shop": str(form.initial_data.get("shop") or "").strip() or None,
             "socket": f"/ws/chat/?token={token}"},
            status=status.HTTP_201_CREATED,
        )  # fmt: skip
