"""A workspace is a wall: the cross-workspace matrix.

Every URL pattern (REST, dashboard, admin, auth) and every websocket route is enumerated
from the project's own routing and must have a case here, or the first test fails: a new
route cannot land without one. For each case, users holding each role in their own
workspace and, in "theirs", no role or a different role ask for theirs' objects. Without a
role there they get 403 or 404 (the admin's "no such object" redirect for admin pages) and
nothing of theirs in the body; with a role that does not allow a write they get the same
refusal. Either way nothing in theirs changes: no audit entry, no domain event.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from aigc_platform.asgi import application
from aigc_platform.routing import websocket_urlpatterns
from apps.accounts.models import Membership, Role
from apps.accounts.services import membership_grant
from apps.apikeys.services import apikey_create
from apps.briefs.models import StyleGuide
from apps.core.models import AuditEvent, OutboxEvent, Workspace
from apps.datasets.models import Dataset, DatasetVersion
from apps.evaluation.models import GateDecision, GateOutcome, QualityGate, WorkspaceEvaluationSettings
from apps.generation.models import GenerationJob, GenerationQuota
from apps.integrations.inbound import endpoint_create
from apps.integrations.models import Delivery
from apps.integrations.outbound import subscription_create
from apps.integrations.sources import feed_create, recurring_create
from apps.publishing.targets import target_create
from apps.reviews.models import ApprovalPolicy
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db

# In every name and title of theirs: never in a refused answer. Six characters: every form
# carries a fresh random CSRF token (64 letters and digits), and one page in about 3,800 held
# the three-character mark this had before.
MARK = "zq7x9j"
ROLES = (Role.EDITOR, Role.REVIEWER, Role.ADMIN)
ANY, WRITERS, REVIEWERS, ADMINS = ROLES, (Role.EDITOR, Role.ADMIN), (Role.REVIEWER, Role.ADMIN), (
    Role.ADMIN,)
# Who may write through each route in the workspace that owns the object: the expected
# governance, written out here rather than read back from apps.accounts.roles.
API_WRITERS: dict[str, tuple[str, ...]] = {
    "brief-list": WRITERS, "brief-import": WRITERS, "brief-submit": WRITERS,
    "brief-cancel": WRITERS, "brief-regenerate": WRITERS, "brief-publish": WRITERS,
    "brief-approve": REVIEWERS, "brief-reject": REVIEWERS, "brief-request-changes": REVIEWERS,
    "job-cancel": WRITERS, "training-run-list": ADMINS,
    "model-profile-list": ADMINS, "model-profile-detail": ADMINS,
    "content-type-list": WRITERS, "content-type-detail": WRITERS,
    "style-guide-list": WRITERS, "style-guide-detail": WRITERS,
    "publication-retry": WRITERS, "publication-reschedule": WRITERS,
    "publication-cancel": WRITERS, "publication-withdraw": WRITERS,
    "target-list": ADMINS, "target-detail": ADMINS, "target-test-connection": ADMINS,
    "endpoint-list": ADMINS, "endpoint-detail": ADMINS, "endpoint-rotate-secret": ADMINS,
    "subscription-list": ADMINS, "subscription-detail": ADMINS, "subscription-enable": ADMINS,
    "delivery-redeliver": ADMINS,
    "feed-list": WRITERS, "feed-detail": WRITERS,
    "recurring-brief-list": WRITERS, "recurring-brief-detail": WRITERS,
    "member-list": ADMINS, "member-detail": ADMINS,
    "api-key-list": ADMINS, "api-key-revoke": ADMINS,
    "dataset-list": ADMINS, "dataset-imports": ADMINS, "dataset-build": ADMINS,
    "dataset-version-train": ADMINS, "model-version-promote": ADMINS,
    "training-run-cancel": ADMINS, "dataset-version-cancel": ADMINS,
    "model-version-archive": ADMINS, "model-profile-rollback": ADMINS,
    "model-profile-candidate": ADMINS, "model-version-evaluate": ADMINS,
}
# The REST routes (api namespace) and the path of theirs each is asked with.
API_PATHS = {
    "brief-list": "briefs/", "brief-import": "briefs/import/",
    "brief-detail": "briefs/{brief}/", "brief-submit": "briefs/{brief}/submit/",
    "brief-cancel": "briefs/{brief}/cancel/", "brief-regenerate": "briefs/{brief}/regenerate/",
    "brief-approve": "briefs/{brief}/approve/", "brief-reject": "briefs/{brief}/reject/",
    "brief-request-changes": "briefs/{brief}/request-changes/",
    "brief-publish": "briefs/{published}/publish/",
    "brief-scorecards": "briefs/{brief}/scorecards/",
    "brief-lineage": "briefs/{published}/lineage/",
    "job-list": "jobs/", "job-detail": "jobs/{job}/", "job-cancel": "jobs/{job}/cancel/",
    "usage": "usage/",
    "training-run-list": "training-runs/", "training-run-detail": "training-runs/{training_run}/",
    "draft-list": "drafts/", "draft-detail": "drafts/{draft}/",
    "evaluation-list": "evaluations/", "evaluation-detail": "evaluations/{evaluation}/",
    "model-profile-list": "model-profiles/", "model-profile-detail": "model-profiles/{profile}/",
    "content-type-list": "content-types/", "content-type-detail": "content-types/{content_type}/",
    "style-guide-list": "style-guides/", "style-guide-detail": "style-guides/{style_guide}/",
    "review-list": "reviews/",
    "publication-list": "publications/", "publication-detail": "publications/{publication}/",
    "publication-retry": "publications/{publication}/retry/",
    "publication-reschedule": "publications/{publication}/reschedule/",
    "publication-cancel": "publications/{publication}/cancel/",
    "publication-withdraw": "publications/{publication}/withdraw/",
    "publication-preview": "publications/{publication}/preview/",
    "target-list": "targets/", "target-detail": "targets/{target}/",
    "target-test-connection": "targets/{target}/test-connection/",
    "endpoint-list": "webhook-endpoints/", "endpoint-detail": "webhook-endpoints/{endpoint}/",
    "endpoint-rotate-secret": "webhook-endpoints/{endpoint}/rotate-secret/",
    "subscription-list": "webhook-subscriptions/",
    "subscription-detail": "webhook-subscriptions/{subscription}/",
    "subscription-enable": "webhook-subscriptions/{subscription}/enable/",
    "delivery-list": "webhook-deliveries/", "delivery-detail": "webhook-deliveries/{delivery}/",
    "delivery-redeliver": "webhook-deliveries/{delivery}/redeliver/",
    "feed-list": "feeds/", "feed-detail": "feeds/{feed}/",
    "recurring-brief-list": "recurring-briefs/",
    "recurring-brief-detail": "recurring-briefs/{recurring}/",
    "member-list": "members/", "member-detail": "members/{member}/",
    "api-key-list": "api-keys/", "api-key-detail": "api-keys/{api_key}/",
    "api-key-revoke": "api-keys/{api_key}/revoke/",
    "dataset-list": "datasets/", "dataset-detail": "datasets/{dataset}/",
    "dataset-imports": "datasets/{dataset}/imports/", "dataset-build": "datasets/{dataset}/build/",
    "dataset-version-list": "dataset-versions/",
    "dataset-version-detail": "dataset-versions/{dataset_version}/",
    "dataset-version-train": "dataset-versions/{dataset_version}/train/",
    "dataset-version-cancel": "dataset-versions/{dataset_version}/cancel/",
    "training-run-cancel": "training-runs/{training_run}/cancel/",
    "model-version-list": "model-versions/", "model-version-compare": "model-versions/compare/",
    "model-version-comparison": "model-versions/comparison/",
    "model-version-detail": "model-versions/{model_version}/",
    "model-version-promote": "model-versions/{model_version}/promote/",
    "model-version-archive": "model-versions/{model_version}/archive/",
    "model-version-evaluate": "model-versions/{model_version}/evaluate/",
    "model-profile-rollback": "model-profiles/{profile}/rollback/",
    "model-profile-candidate": "model-profiles/{profile}/candidate/",
}
# The dashboard's routes, and who may act through them in the object's workspace.
DASHBOARD: dict[str, tuple[str, tuple[str, ...]]] = {
    "queue": ("/", ()), "notifications": ("/notifications/", ANY),
    "notifications_read": ("/notifications/read/", ANY),
    "insights": ("/insights/", ()), "insights_json": ("/insights.json", ()),
    "training": ("/training/", ADMINS), "brief_new": ("/briefs/new/", WRITERS),
    "workspace_switch": ("/workspace/", ()),
    # The user's own settings: no workspace's rows behind them.
    "profile": ("/profile/", ()), "profile_time_zone": ("/profile/time-zone/", ()),
    "queue_bulk": ("/bulk/", REVIEWERS),  # the action asked for below is "reject"
    "brief": ("/briefs/{brief}/", ()), "brief_card": ("/briefs/{brief}/card/", ()),
    "brief_approve": ("/briefs/{brief}/approve/", REVIEWERS),
    "brief_reject": ("/briefs/{brief}/reject/", REVIEWERS),
    "brief_request_changes": ("/briefs/{brief}/request-changes/", REVIEWERS),
    "brief_publish": ("/briefs/{published}/publish/", WRITERS),
    "brief_comment": ("/briefs/{brief}/comments/", ANY),
    "brief_assign": ("/briefs/{brief}/assign/", ANY),
    "brief_guest_link": ("/briefs/{brief}/guest-link/", REVIEWERS),
    "draft_edit": ("/briefs/{brief}/drafts/{draft}/edit/", REVIEWERS),
    "draft_lock": ("/briefs/{brief}/drafts/{draft}/lock/", REVIEWERS),
    "calendar": ("/calendar/", ()),
    "calendar_reschedule": ("/calendar/publications/{publication}/reschedule/", WRITERS),
    "calendar_cancel": ("/calendar/publications/{publication}/cancel/", WRITERS),
    "draft_preview": ("/briefs/{brief}/drafts/{draft}/preview/", REVIEWERS),
    "brief_undo": ("/briefs/{published}/undo/", WRITERS),
    # datasets and the model registry (apps/datasets/urls.py): admins read and write
    "datasets": ("/datasets/", ADMINS), "dataset": ("/datasets/{dataset}/", ADMINS),
    "dataset_import": ("/datasets/{dataset}/import/", ADMINS),
    "dataset_build": ("/datasets/{dataset}/build/", ADMINS),
    "dataset_version": ("/datasets/versions/{dataset_version}/", ADMINS),
    "dataset_version_cancel": ("/datasets/versions/{dataset_version}/cancel/", ADMINS),
    "dataset_version_train": ("/datasets/versions/{dataset_version}/train/", ADMINS),
    "training_run_cancel": ("/training/runs/{training_run}/cancel/", ADMINS),
    "models": ("/models/", ADMINS),
    "model_version_promote": ("/models/{model_version}/promote/", ADMINS),
    "model_version_archive": ("/models/{model_version}/archive/", ADMINS),
    "model_version_evaluate": ("/models/{model_version}/evaluate/", ADMINS),
    "model_version_evaluate_cancel": ("/models/{model_version}/evaluate/cancel/", ADMINS),
    "model_profile_rollback": ("/models/profiles/{profile}/rollback/", ADMINS),
    "model_profile_candidate": ("/models/profiles/{profile}/candidate/", ADMINS),
    "retrain_policy": ("/models/retrain-policy/", ADMINS),
    # workspace settings (settings/ in apps/dashboard/urls.py): admins read and write
    "settings": ("/settings/", ADMINS), "settings_members": ("/settings/members/", ADMINS),
    "settings_member": ("/settings/members/{member}/", ADMINS),
    "settings_api_keys": ("/settings/api-keys/", ADMINS),
    "settings_api_key_revoke": ("/settings/api-keys/{api_key}/revoke/", ADMINS),
    "settings_targets": ("/settings/targets/", ADMINS),
    "settings_target_new": ("/settings/targets/new/", ADMINS),
    "settings_target": ("/settings/targets/{target}/", ADMINS),
    "settings_target_test": ("/settings/targets/{target}/test/", ADMINS),
    "settings_content_types": ("/settings/content-types/", ADMINS),
    "settings_content_type": ("/settings/content-types/{content_type}/", ADMINS),
    "settings_gate": ("/settings/content-types/{content_type}/gate/", ADMINS),
    "settings_policy": ("/settings/content-types/{content_type}/policy/", ADMINS),
    "settings_model_profiles": ("/settings/model-profiles/", ADMINS),
    "settings_model_profile": ("/settings/model-profiles/{profile}/", ADMINS),
    "settings_model_profile_check": ("/settings/model-profiles/{profile}/check/", ADMINS),
    "settings_webhooks": ("/settings/webhooks/", ADMINS),
    "settings_endpoint_new": ("/settings/webhooks/endpoints/", ADMINS),
    "settings_endpoint_rotate": ("/settings/webhooks/endpoints/{endpoint}/rotate/", ADMINS),
    "settings_subscription_new": ("/settings/webhooks/subscriptions/", ADMINS),
    "settings_subscription_enable": (
        "/settings/webhooks/subscriptions/{subscription}/enable/", ADMINS),
    "settings_delivery_redeliver": ("/settings/webhooks/deliveries/{delivery}/redeliver/",
                                    ADMINS),
}
# Routes with no workspace behind them, or reached by a secret rather than a membership
# (tested where they live): signing in, the API schema, signed inbound hooks, guest links,
# health probes.
PUBLIC = {
    "login", "logout", "password_change", "password_change_done", "password_reset",
    "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "api:schema", "api:swagger", "api:redoc", "api:hook-receive", "dashboard:guest",
    "healthz", "readyz", None,
}
# The admin's own pages (no workspace's rows) and the per-model pages asked for below.
ADMIN_SITE = {"index", "login", "logout", "password_change", "password_change_done",
              "jsi18n", "view_on_site", "app_list", "autocomplete",
              "None"}  # the admin's unnamed catch-all that redirects to its login
ADMIN_MODEL_PAGES = ("changelist", "add", "change", "delete", "history")
# What only a workspace's admins may change in the admin, written out.
ADMIN_GOVERNED = {
    ("core", "workspace"), ("accounts", "membership"), ("apikeys", "apikey"),
    ("generation", "modelprofile"), ("generation", "generationquota"),
    ("evaluation", "qualitygate"), ("evaluation", "workspaceevaluationsettings"),
    ("reviews", "approvalpolicy"), ("publishing", "publishingtarget"),
    ("integrations", "inboundendpoint"), ("integrations", "subscription"),
}
WEBSOCKETS = {"ws/jobs/<int:job_id>/": "/ws/jobs/{job}/",
              "ws/workspace/": "/ws/workspace/?workspace={workspace}"}


def _routes(resolver: URLResolver, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, pattern.namespace or namespace)
        else:
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def _admin_model_route(name: str) -> bool:
    return any(name.endswith(f"_{page}") for page in ADMIN_MODEL_PAGES)


@dataclass
class Theirs:
    workspace: Workspace
    ids: dict[str, int]
    rows: dict[tuple[str, str], Any]

    def path(self, template: str) -> str:
        return template.format(workspace=self.workspace.pk, **self.ids)


@pytest.fixture
def theirs() -> Theirs:
    """A workspace with one row of every kind, each named with MARK."""
    ws = factories.workspace(name=f"Theirs {MARK}", slug=f"theirs-{MARK}")
    owner = factories.member(ws, Role.ADMIN, username=f"owner-{MARK}")
    rita = factories.member(ws, Role.REVIEWER, username=f"rita-{MARK}")
    content_type = factories.content_type(ws, name=f"Type {MARK}")
    brief = factories.brief_in_review(ws, ct=content_type, title=f"Brief {MARK}", created_by=owner)
    published = factories.brief_in_review(ws, ct=content_type, title=f"Out {MARK}")
    target = target_create(workspace=ws, name=f"Site {MARK}", kind="file",
                           config={"folder": f"site-{MARK}"})
    review_approve(brief=published, draft_id=published.drafts.first().pk, reviewer=rita,
                   target_ids=[target.pk])
    factories.review_underway(brief, rita, note=f"Note {MARK}", guest=f"Guest {MARK}")
    ApprovalPolicy.objects.create(content_type=content_type, approvals_required=2)
    QualityGate.objects.create(workspace=ws, name=f"Gate {MARK}", content_type=content_type)
    GateDecision.objects.create(workspace=ws, job=brief.jobs.get(), brief=brief,
                                decision=GateOutcome.REVIEW, passed=True)
    WorkspaceEvaluationSettings.objects.get_or_create(workspace=ws)
    GenerationQuota.objects.get_or_create(workspace=ws)
    profile = factories.model_profile(ws, name=f"Model {MARK}")
    model_version = factories.model_version(ws, folder=f"run-{MARK}")
    run = model_version.training_run
    style = StyleGuide.objects.create(workspace=ws, name=f"Style {MARK}")
    endpoint, _ = endpoint_create(workspace=ws, name=f"Hook {MARK}", slug=f"hook-{MARK}",
                                  content_type_id=content_type.pk)
    subscription, _ = subscription_create(workspace=ws, name=f"Sub {MARK}",
                                          url="https://example.com/hook", event_types=["brief.*"])
    event = OutboxEvent.objects.filter(workspace=ws).first()
    delivery = Delivery.objects.create(subscription=subscription, event_id=event.pk,
                                       event_type=event.type, payload={"title": MARK})
    feed = feed_create(workspace=ws, name=f"Feed {MARK}", url="https://example.com/feed",
                       content_type=content_type)
    recurring = recurring_create(workspace=ws, name=f"Weekly {MARK}", cron="0 9 * * 1",
                                 tz="UTC", content_type_id=content_type.pk,
                                 brief_fields={"title": f"Weekly {MARK}", "topic": "news"})
    key, _ = apikey_create(workspace=ws, user=owner, name=f"Key {MARK}", scopes=["briefs:read"])
    dataset = Dataset.objects.create(workspace=ws, name=f"Archive {MARK}")
    dataset_version = DatasetVersion.objects.create(dataset=dataset, workspace=ws, number=1,
                                                    card=f"# Archive {MARK}")
    ids = {"brief": brief.pk, "published": published.pk, "draft": brief.drafts.first().pk,
           "job": brief.jobs.get().pk, "evaluation": brief.drafts.first().evaluation.pk,
           "publication": published.publications.get().pk, "target": target.pk,
           "profile": profile.pk, "content_type": content_type.pk, "style_guide": style.pk,
           "training_run": run.pk, "endpoint": endpoint.pk, "subscription": subscription.pk,
           "delivery": delivery.pk, "feed": feed.pk, "recurring": recurring.pk,
           "member": Membership.objects.get(user=owner).pk, "api_key": key.pk,
           "dataset": dataset.pk, "dataset_version": dataset_version.pk,
           "model_version": model_version.pk}
    rows = {}
    for model, model_admin in admin.site._registry.items():
        path = getattr(model_admin, "workspace_path", None)
        if path is not None:
            rows[(model._meta.app_label, model._meta.model_name)] = (
                model._default_manager.filter(**{path: ws.pk}).first())
    return Theirs(ws, ids, rows)


def _strangers(theirs: Theirs) -> list[tuple[Any, str | None]]:
    """(user, role in theirs): each role in a workspace of their own, with no role in theirs
    or another role there."""
    users = []
    for own, there in itertools.product(ROLES, (None, *ROLES)):
        if own == there:
            continue
        user = factories.member(factories.workspace(name=f"Own {own} {there}"), own)
        if there is not None:
            membership_grant(user=user, workspace=theirs.workspace, role=there)
        users.append((user, there))
    return users


def _leak(answer: Any) -> str | None:
    """Where MARK stands in the answer, with what surrounds it, if it does."""
    at = answer.content.find(MARK.encode())
    return None if at < 0 else answer.content[max(0, at - 80):at + 80].decode(errors="replace")


def _traces(ws: Workspace) -> tuple[int, int]:
    return (AuditEvent.objects.filter(workspace=ws).count(),
            OutboxEvent.objects.filter(workspace=ws).count())


def _methods(path: str) -> list[str]:
    view = resolve(path).func
    cls = getattr(view, "view_class", None) or getattr(view, "cls", None)
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]


BODY = {"title": "Mine", "name": "Mine", "role": "admin", "username": "x", "draft_id": 1,
        "scopes": ["briefs:read"], "enabled": True, "secret": "whsec_x", "text": "Mine",
        "body": "Mine", "action": "reject", "feedback": "mine", "guest_name": "Eve"}


def test_every_route_has_a_case():
    named = {name for name, _ in _routes(get_resolver())}
    admin_pages = {n for n in named if n and n.startswith("admin:")}
    covered = ({f"api:{n}" for n in API_PATHS} | {f"dashboard:{n}" for n in DASHBOARD} | PUBLIC
               | {f"admin:{n}" for n in ADMIN_SITE}
               | {n for n in admin_pages if _admin_model_route(n)})
    assert sorted(str(n) for n in named - covered) == []
    assert set(API_WRITERS) <= set(API_PATHS)
    sockets = {str(p.pattern) for p in websocket_urlpatterns}
    assert sockets == set(WEBSOCKETS)


def test_rest_api(theirs):
    failures = []
    strangers = _strangers(theirs)
    before = _traces(theirs.workspace)
    for user, there in strangers:
        client = logged_in(user)
        for name, template in API_PATHS.items():
            path = "/api/v1/" + theirs.path(template)
            for method in _methods(path):
                write = method != "get"
                if there is not None and (not write or there in API_WRITERS.get(name, ())):
                    continue  # their role there allows this: not a wall case
                for header in ({"X-Workspace": str(theirs.workspace.pk)}, {}):
                    answer = getattr(client, method)(path, BODY, content_type="application/json",
                                                     headers=header)
                    # Without the header a list route acts in the caller's own workspace.
                    own = not header and "{" not in template
                    if not own and answer.status_code not in (403, 404):
                        failures.append((user.username, there, method, path, header,
                                         answer.status_code))
                    if leak := _leak(answer):
                        failures.append((user.username, there, method, path, header, leak))
    assert failures == [], "\n".join(map(str, failures))
    assert _traces(theirs.workspace) == before


def test_dashboard(theirs):
    failures = []
    strangers = _strangers(theirs)
    before = _traces(theirs.workspace)
    for user, there in strangers:
        for name, (template, writers) in DASHBOARD.items():
            path = theirs.path(template)
            # Without a role there the session stays in their own workspace; with one, the
            # user has switched to theirs, and only writes their role refuses are cases.
            client = logged_in(user, theirs.workspace.pk if there else None)
            for method in ("get", "post"):
                if there is not None and (method == "get" or not writers or there in writers):
                    continue
                data = {**BODY, "workspace_id": theirs.workspace.pk,
                        "brief_ids": [theirs.ids["brief"]], "reviewer": user.pk,
                        "publication_ids": [theirs.ids["publication"]]}
                answer = getattr(client, method)(path, data)
                own_page = there is None and "{" not in template and name != "workspace_switch"
                if not own_page and answer.status_code not in (403, 404, 405):
                    failures.append((user.username, there, method, path, answer.status_code))
                if leak := _leak(answer):
                    failures.append((user.username, there, method, path, leak))
    assert failures == [], "\n".join(map(str, failures))
    assert _traces(theirs.workspace) == before


def test_admin(theirs):
    failures = []
    for (app, model), row in theirs.rows.items():
        assert row is not None, f"give theirs a {app}.{model} row"
    strangers = _strangers(theirs)
    before = _traces(theirs.workspace)
    for user, there in strangers:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        client = logged_in(user)
        for (app, model), row in theirs.rows.items():
            base = f"/admin/{app}/{model}/"
            governed = (app, model) in ADMIN_GOVERNED
            if there is None:
                for page in ("", "add/"):
                    answer = client.get(base + page)
                    if leak := _leak(answer):
                        failures.append((user.username, there, base + page, leak))
                for page in (f"{row.pk}/change/", f"{row.pk}/delete/", f"{row.pk}/history/"):
                    for method in ("get", "post"):
                        answer = getattr(client, method)(base + page, {"post": "yes", **BODY})
                        refused = answer.status_code == 403 or (
                            answer.status_code == 302 and answer.url == "/admin/")
                        if not refused or _leak(answer):
                            failures.append((user.username, there, method, base + page,
                                             answer.status_code, _leak(answer)))
            elif governed and there != Role.ADMIN:
                for page in (f"{row.pk}/change/", f"{row.pk}/delete/"):
                    answer = client.post(base + page, {"post": "yes", **BODY})
                    if answer.status_code not in (302, 403) or (
                            answer.status_code == 302 and answer.url != "/admin/"):
                        failures.append((user.username, there, base + page, answer.status_code))
    assert failures == [], "\n".join(map(str, failures))
    assert _traces(theirs.workspace) == before


@pytest.mark.django_db(transaction=True)  # the consumer reads in its own connection
def test_websockets():
    # Rows, not services: a relayed job.queued would send a real task to the broker.
    ws = factories.workspace(name=f"Theirs {MARK}")
    brief = factories.brief(ws)
    job = GenerationJob.objects.create(workspace=ws, brief=brief, variants=brief.variants)
    strangers = [factories.member(factories.workspace(), role) for role in ROLES]
    paths = [template.format(job=job.pk, workspace=ws.pk) for template in WEBSOCKETS.values()]
    cookies = []
    for user in strangers:
        client = logged_in(user)
        cookies.append(f"{settings.SESSION_COOKIE_NAME}="
                       f"{client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())

    async def close_code(path: str, cookie: bytes) -> tuple[str, Any]:
        socket = WebsocketCommunicator(application, path, headers=[
            (b"origin", b"http://localhost"), (b"cookie", cookie)])
        connected, _ = await socket.connect(timeout=5)
        message = await socket.receive_output(timeout=5) if connected else {"type": "refused"}
        await socket.disconnect()
        return path, message.get("code", message.get("text", message["type"]))

    async def scenario() -> list[tuple[str, Any]]:
        return list(await asyncio.gather(*(close_code(path, cookie)
                                           for path in paths for cookie in cookies)))

    answers = async_to_sync(scenario)()
    assert answers == [(path, 4403) for path in paths for _ in cookies]
