from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from core import roles


@pytest.fixture
def business(make_user: Callable[..., User]) -> User:
    return make_user("biz1", roles.BUSINESS, first_name="物流陈经理")
