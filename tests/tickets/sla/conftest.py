"""The SLA tests' department and default policy."""

from __future__ import annotations

import pytest

from tests.tickets.sla.support import policy
from tickets.models import Department, SLAPolicy


@pytest.fixture
def dept(db: None) -> Department:
    return Department.objects.create(code="after-sales", name="售后")


@pytest.fixture
def default_policy(db: None) -> SLAPolicy:
    return policy("default", first=60, resolution=480)
