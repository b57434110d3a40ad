from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.mark.django_db
def test_the_api_schema_needs_a_login() -> None:
    assert Client().get("/api/schema/").status_code == 403


@pytest.mark.django_db
def test_the_api_docs_signed_out_send_a_person_to_the_login_page_and_back() -> None:
    response = Client().get("/api/docs/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/api/docs/")


def test_a_logged_in_user_gets_the_openapi_schema(agent: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(agent)
    schema = client.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Service Desk API"
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs  # no CDN
