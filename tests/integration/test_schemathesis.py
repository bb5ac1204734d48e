"""The OpenAPI schema against the running API: generated requests, zero 5xx, zero violations.

Schemathesis builds requests for every operation from /api/v1/schema/ and
checks each answer against it (status codes, content types, bodies). The
workspace holds a brief in review, an approved one with a publication, an
inbound endpoint and a subscription, so lists and details return real rows.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from apps.accounts.models import Role
from apps.apikeys.models import Scope
from apps.apikeys.services import apikey_create
from apps.integrations.inbound import endpoint_create
from apps.integrations.outbound import subscription_create
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve
from tests import factories

pytestmark = pytest.mark.django_db(transaction=False)

EXAMPLES_PER_OPERATION = 8
# Server errors and conformance to the schema. Not `positive_data_acceptance`: a
# schema-valid body may still name a content type this workspace lacks (a 400).
SCHEMA_CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
                 checks.content_type_conformance, checks.response_schema_conformance,
                 checks.response_headers_conformance]


@pytest.fixture
def api_schema():
    # The WSGI handler closes the database connection after each request, which would
    # close the test's transaction; Django's own test client unhooks it the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer() -> dict[str, str]:
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN)
    target = target_create(workspace=ws, name="Folder", kind="file", config={"folder": "site"})
    approved = factories.brief_in_review(ws)
    review_approve(brief=approved, draft_id=approved.drafts.first().pk, reviewer=admin,
                   target_ids=[target.pk])
    factories.brief_in_review(ws)
    endpoint_create(workspace=ws, name="CMS", slug="cms", content_type_id=approved.content_type_id,
                    field_mapping={"title": "headline"})
    subscription_create(workspace=ws, name="Bot", url="http://127.0.0.1:9/", event_types=["*"])
    _, key = apikey_create(workspace=ws, user=admin, name="fuzz", scopes=Scope.values)
    return {"Authorization": f"Bearer {key}"}


def test_every_operation_answers_as_documented(api_schema, bearer, settings_override):
    # given every operation of the schema; when each gets generated requests
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer, checks=SCHEMA_CHECKS)

        try:
            answers_as_documented()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, not the first
            failures.append(f"{operation.label}: {exc}")
    # then none answered a 5xx or outside its schema
    assert operations >= 40
    assert failures == [], "\n\n".join(failures)


@pytest.fixture
def settings_override(settings):
    # Generated requests come fast from one key: the throttles are not what is tested here.
    settings.API_THROTTLE_KEY_RATE = "100000/min"
    settings.API_THROTTLE_USER_RATE = "100000/min"
