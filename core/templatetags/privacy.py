"""``{{ text|pii_for:request.user }}``: words with personal numbers masked unless the viewer may see them."""

from __future__ import annotations

from typing import Any

from django import template

from core.privacy import shown
from core.users import RequestUser

register = template.Library()


@register.filter
def pii_for(text: Any, user: RequestUser) -> str:
    return shown(str(text or ""), user)
