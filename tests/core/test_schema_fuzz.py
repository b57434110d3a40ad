"""Schemathesis against the live OpenAPI schema, in process (WSGI), as a logged-in supervisor.

Every operation gets a few generated cases, valid and invalid ones (derandomized, so a run is
repeatable), and every response must pass all of schemathesis' checks: no 5xx, a declared status and
content type, a body that matches the declared schema, invalid input refused, valid input accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from core import roles
from tests.crm import factories
from tickets.models import Department
from tickets.services import open_ticket

EXAMPLES = 10  # per operation and mode: about 40 s for the whole API on the 2-core box
CSRF = "k" * 32
# A schema-valid reference to a row that does not exist (a consumer's id, an order number) is a 400 naming
# the field, by design (an unknown row and another shop's get the same answer): not a rejected valid request.
EXCLUDED = [
    checks.positive_data_acceptance
]  # a cookie secret and the same value in the header: Django's double-submit check passes


@pytest.fixture
def supervisor_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("fuzz-supervisor", roles.SUPERVISOR))
    return client


@pytest.fixture
def session(supervisor_client: Client) -> dict[str, Any]:
    """What each generated request carries: the supervisor's session and the CSRF double submit."""
    cookies = {"sessionid": supervisor_client.cookies["sessionid"].value, "csrftoken": CSRF}
    return {"cookies": cookies, "headers": {"X-CSRFToken": CSRF, "Accept-Language": "en"}}


@pytest.fixture
def api_schema(db: None, supervisor_client: Client) -> Iterator[Any]:
    consumer = factories.consumer("C1")
    order = factories.order(consumer, factories.merchant("M1"))
    department = Department.objects.get_or_create(code="after-sales", defaults={"name": "After-sales"})[0]
    open_ticket(consumer, subject="Where is it", department=department, order=order, body="It is late")
    document = supervisor_client.get("/api/schema/?format=json").json()
    # The requests carry the supervisor's session (below): the generator must not make up (or drop) one.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()  # requests go to Django in process, in this test's transaction
    # As Django's test client does: a request's end must not hand this test's connection back to the pool.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schema
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_every_operation_passes_schemathesis_checks(api_schema: Any, session: dict[str, Any]) -> None:
    # One Hypothesis run per operation and mode (schemathesis' pytest plugin does not run under pytest 9).
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
            )  # fmt: skip
            def check(case: Any) -> None:
                case.call_and_validate(**session, excluded_checks=EXCLUDED)

            try:
                check()
            except Unsatisfiable:
                pass  # no invalid value exists (a free-text path parameter): nothing to send in this mode
            except (Exception, BaseExceptionGroup) as error:  # each failure is reported below, all at once
                failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = str(error)[:2000]
    assert len(operations) >= 18
    assert failures == {}, "\n\n".join(f"{name}: {text}" for name, text in failures.items())


def test_fields_that_can_be_null_are_nullable_and_errors_are_declared(supervisor_client: Client) -> None:
    document = supervisor_client.get("/api/schema/?format=json").json()
    schemas = document["components"]["schemas"]

    assert schemas["Ticket"]["properties"]["order"]["nullable"] is True
    assert schemas["TicketDetail"]["properties"]["order"]["nullable"] is True
    assert schemas["Refund"]["properties"]["decided_by"]["nullable"] is True
    # Events the system writes (an escalation, an expired return) have no author.
    assert schemas["TicketEvent"]["properties"]["author"]["nullable"] is True
    detail = document["paths"]["/api/tickets/{id}/"]["get"]["responses"]
    listing = document["paths"]["/api/tickets/"]["get"]["responses"]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    assert (detail["404"]["content"], listing["400"]["content"], listing["503"]["content"]) == (error, error, error)
    assert "404" not in listing
    page_size = next(p for p in document["paths"]["/api/tickets/"]["get"]["parameters"] if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}


@pytest.mark.parametrize("value", ["0", "null", "101", "-1", "1.5", "٣"])
def test_a_page_size_outside_1_to_100_is_refused(value: str, supervisor_client: Client) -> None:
    response = supervisor_client.get(f"/api/tickets/?page_size={value}", headers={"Accept-Language": "en"})

    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "invalid",
            "message": "Invalid input.",
            "errors": {"page_size": ["Give a whole number from 1 to 100."]},
        },
    )


def test_a_bad_cursor_is_a_400_naming_it(supervisor_client: Client) -> None:
    response = supervisor_client.get("/api/tickets/?cursor=nonsense", headers={"Accept-Language": "en"})

    assert (response.status_code, response.json()["errors"]) == (400, {"cursor": ["Invalid cursor"]})


@pytest.mark.parametrize("body", [0, 1.5, True, ["x"], {"x": 1}, None])
def test_a_reply_body_that_is_not_a_string_is_refused(body: object, supervisor_client: Client) -> None:
    consumer = factories.consumer("C1")
    department = Department.objects.get_or_create(code="after-sales", defaults={"name": "After-sales"})[0]
    ticket = open_ticket(consumer, subject="Where is it", department=department)

    response = supervisor_client.post(
        f"/api/tickets/{ticket.pk}/reply/",
        {"body": body},
        content_type="application/json",
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 400 and list(response.json()["errors"]) == ["body"]
    assert ticket.events.count() == 1
