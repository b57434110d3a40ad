from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_api_schema_and_docs_need_a_login(url: str) -> None:
    assert Client().get(url).status_code == 403


def test_a_logged_in_user_gets_the_openapi_schema(agent: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(agent)
    schema = client.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Service Desk API"
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs  # no CDN
