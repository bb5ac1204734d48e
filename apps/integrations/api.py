"""Integrations over REST: the inbound hook, endpoints, subscriptions and their deliveries."""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiWebhook,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_auth import (
    WorkspaceDetailApi,
    WorkspaceListApi,
    WorkspaceRowCreate,
    WorkspaceRowUpdate,
    request_workspace,
)
from apps.accounts.roles import CAN_GOVERN, CAN_SUBMIT_BRIEFS
from apps.briefs.serializers import BriefCreateSerializer
from apps.core.api import ApiBase, ApiSchema, IdFilter, row_found
from apps.core.json_input import CheckedJSONParser
from apps.core.models import Workspace
from apps.integrations.importing import CsvParser, briefs_import
from apps.integrations.inbound import (
    PayloadTooLarge,
    endpoint_create,
    endpoint_secret_rotate,
    endpoint_update,
    inbound_receive,
)
from apps.integrations.models import (
    Delivery,
    DeliveryState,
    FeedSource,
    InboundEndpoint,
    RecurringBrief,
    Subscription,
)
from apps.integrations.outbound import delivery_redeliver, subscription_create, subscription_enable
from apps.integrations.serializers import (
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    FeedSerializer,
    ImportReportSerializer,
    RecurringBriefSerializer,
    SecretSerializer,
    SubscriptionCreatedSerializer,
    SubscriptionSerializer,
)
from apps.integrations.sources import feed_create, recurring_create

HOOK_HEADERS = [
    OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True,
                     description="The message id; a replay of it gets the first answer."),
    OpenApiParameter("webhook-timestamp", str, OpenApiParameter.HEADER, required=True,
                     description="Unix seconds; refused when more than 5 minutes away."),
    OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True,
                     description="v1,<base64 HMAC-SHA256 of id.timestamp.body>, space-separated."),
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                     description="Deduplicate by this instead of webhook-id."),
]
Accepted = inline_serializer("HookAccepted", {
    "brief_id": serializers.IntegerField(), "state": serializers.CharField(),
    "status_url": serializers.CharField()})
Problem = inline_serializer("HookProblem", {
    "detail": serializers.CharField(),
    "errors": serializers.DictField(required=False, help_text="per brief field")})


@extend_schema(methods=["POST"],
    request={"application/json": BriefCreateSerializer(many=True),
             "text/csv": {"type": "string"},
             "multipart/form-data": {"type": "object", "properties": {
                 "file": {"type": "string", "format": "binary"}}}},
    responses={200: ImportReportSerializer},
)
class BriefImportApi(ApiBase, APIView):
    """Many briefs at once from a JSON list or a CSV file; each row is created or refused alone."""

    write_scope = "briefs:write"
    parser_classes = [CheckedJSONParser, CsvParser, MultiPartParser]

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_SUBMIT_BRIEFS)
        report = briefs_import(workspace=workspace, data=request.data, actor=request.user)
        return Response(ImportReportSerializer(report).data)


@extend_schema(methods=["POST"],
    parameters=HOOK_HEADERS, tags=["hooks"],
    request={"application/json": {"type": "object", "additionalProperties": True}},
    responses={202: Accepted, 400: Problem, 401: Problem, 404: Problem, 409: Problem,
               413: Problem, 422: Problem},
    examples=[OpenApiExample("A CMS article", request_only=True, value={
        "id": "post-881", "article": {"headline": "Rain gardens", "summary": "How to plan one"},
        "tags": ["garden"]}),
        OpenApiExample("Accepted", response_only=True, status_codes=["202"], value={
            "brief_id": 42, "state": "queued", "status_url": "/api/v1/briefs/42/"})],
)
class InboundHookApi(APIView):
    """Signed pushes from other systems; the signature is the authentication."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    schema = ApiSchema()

    def post(self, request: Request, slug: str) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge(
                f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
        headers = {name.lower(): value for name, value in request.headers.items()}
        answer = inbound_receive(slug=slug, headers=headers, body=request.body)
        response = Response(answer.body, status=answer.status)
        if answer.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema(methods=["POST"], request=EndpointSerializer, responses={201: EndpointCreatedSerializer})
class EndpointListCreateApi(WorkspaceListApi):
    read_scope, write_scope = "events:read", "integrations:write"
    queryset = InboundEndpoint.objects.all()
    serializer_class = EndpointSerializer
    filterset_fields = ["enabled", "slug"]

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        fields = EndpointSerializer(data=request.data, context={"workspace": workspace})
        fields.is_valid(raise_exception=True)
        data = dict(fields.validated_data)
        endpoint, secret = endpoint_create(
            workspace=workspace, content_type_id=data.pop("content_type").pk, actor=request.user,
            **data)
        return Response({**EndpointSerializer(endpoint).data, "secret": secret},
                        status=status.HTTP_201_CREATED)


@extend_schema(methods=["PATCH"], request=EndpointUpdateSerializer,
               responses=EndpointSerializer,
               examples=[OpenApiExample("Disable", request_only=True, value={"enabled": False})])
class EndpointDetailApi(WorkspaceRowUpdate, WorkspaceDetailApi):
    """An inbound endpoint. Workspace admins PATCH its settings, `enabled`, and replace its
    secret (write-only; every older secret stops working at once)."""

    read_scope, write_scope = "events:read", "integrations:write"
    queryset = InboundEndpoint.objects.all()
    serializer_class = EndpointUpdateSerializer

    def update(self, row: InboundEndpoint, fields: dict[str, Any]) -> InboundEndpoint:
        if "content_type" in fields:
            fields["content_type_id"] = fields.pop("content_type").pk
        return endpoint_update(endpoint=row, actor=self.request.user, **fields)


@extend_schema(methods=["POST"], request=None, responses=SecretSerializer)
class EndpointRotateSecretApi(ApiBase, APIView):
    """A new secret; the old ones stay valid for a day while the sender switches."""

    write_scope = "integrations:write"

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        endpoint = row_found(InboundEndpoint.objects.filter(workspace=workspace), pk, "Endpoint")
        return Response({"secret": endpoint_secret_rotate(endpoint=endpoint, actor=request.user)})


@extend_schema(methods=["POST"], request=SubscriptionSerializer,
               responses={201: SubscriptionCreatedSerializer},
               examples=[OpenApiExample("Briefs and failures", request_only=True, value={
                   "name": "Slack bot", "url": "https://bot.example.com/aigc",
                   "event_types": ["brief.*", "job.failed"]})])
class SubscriptionListCreateApi(WorkspaceListApi):
    read_scope, write_scope = "events:read", "integrations:write"
    queryset = Subscription.objects.all()
    serializer_class = SubscriptionSerializer
    filterset_fields = ["enabled"]

    def post(self, request: Request) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        fields = SubscriptionSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        subscription, secret = subscription_create(workspace=workspace, actor=request.user,
                                                   **fields.validated_data)
        return Response({**SubscriptionSerializer(subscription).data, "secret": secret},
                        status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(WorkspaceDetailApi):
    read_scope = "events:read"
    queryset = Subscription.objects.all()
    serializer_class = SubscriptionSerializer


@extend_schema(methods=["POST"], request=None, responses=SubscriptionSerializer)
class SubscriptionEnableApi(ApiBase, APIView):
    """Turn a subscription (back) on, e.g. after it was disabled for failing."""

    write_scope = "integrations:write"

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        subscription = row_found(Subscription.objects.filter(workspace=workspace), pk,
                                 "Subscription")
        subscription_enable(subscription=subscription, actor=request.user)
        return Response(SubscriptionSerializer(subscription).data)


class DeliveryFilter(django_filters.FilterSet):
    subscription = IdFilter(field_name="subscription_id")
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    event_type = django_filters.CharFilter()


def _deliveries(workspace: Workspace) -> QuerySet[Delivery]:
    return (Delivery.objects.filter(subscription__workspace=workspace)
            .select_related("subscription").prefetch_related("log"))


class DeliveryListApi(WorkspaceListApi):
    read_scope = "events:read"
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter

    def rows(self, workspace: Workspace) -> QuerySet[Delivery]:
        return _deliveries(workspace)


class DeliveryDetailApi(WorkspaceDetailApi):
    read_scope = "events:read"
    serializer_class = DeliverySerializer

    def rows(self, workspace: Workspace) -> QuerySet[Delivery]:
        return _deliveries(workspace)


@extend_schema(methods=["POST"], request=None, responses=DeliverySerializer)
class DeliveryRedeliverApi(ApiBase, APIView):
    """Send a finished delivery again now, with the same webhook-id, so the receiver can
    deduplicate it; one still being delivered is refused."""

    write_scope = "integrations:write"

    def post(self, request: Request, pk: int) -> Response:
        workspace = request_workspace(request, CAN_GOVERN)
        delivery = row_found(_deliveries(workspace), pk, "Delivery")
        delivery_redeliver(delivery=delivery, actor=request.user)
        return Response(DeliverySerializer(_deliveries(workspace).get(pk=pk)).data)


EVENT_V1 = {
    "type": "object",
    "required": ["id", "version", "type", "timestamp", "workspace_id", "subject", "data"],
    "properties": {
        "id": {"type": "string", "description": "evt_<n>; one event may reach several "
                                                "subscriptions"},
        "version": {"type": "integer", "enum": [1]},
        "type": {"type": "string", "description": "brief.<state>, job.<state>, draft.edited, "
                 "review.<decision>, publication.<state>, target.paused, target.resumed, "
                 "target.updated, subscription.paused, subscription.resumed, "
                 "subscription.disabled"},
        "timestamp": {"type": "string", "format": "date-time"},
        "workspace_id": {"type": "integer"},
        "subject": {"type": "object", "required": ["type", "id"], "properties": {
            "type": {"type": "string"}, "id": {"type": "integer"}}},
        "data": {"type": "object", "additionalProperties": True, "description":
                 "the event's fields: state, previous_state, brief_id, job_id, publication_id, "
                 "error, ..."},
    },
}
# A raw operation: spectacular renders it as is, whatever the default schema class.
EVENT_WEBHOOKS = [OpenApiWebhook(name="event", decorator={"post": {
    "summary": "An event a subscription asked for",
    "description": "POSTed to the subscription's URL, signed with its secret the Standard "
                   "Webhooks way (webhook-id, webhook-timestamp, webhook-signature). Answer any "
                   "2xx within 15 s; anything else is retried for about 24 hours.",
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": EVENT_V1,
        "examples": {"brief.in_review": {"value": {
            "id": "evt_981", "version": 1, "type": "brief.in_review",
            "timestamp": "2026-11-29T16:40:02.120000+00:00", "workspace_id": 1,
            "subject": {"type": "contentbrief", "id": 42},
            "data": {"state": "in_review", "previous_state": "generating", "brief_id": 42,
                     "title": "Rain gardens", "job_id": 57}}}}}}},
    "responses": {"2XX": {"description": "Received; anything else is retried."}},
}})]


class FeedListCreateApi(WorkspaceRowCreate, WorkspaceListApi):
    """RSS/Atom feeds polled on a schedule; each new entry becomes a brief."""

    read_scope, write_scope = "events:read", "integrations:write"
    queryset = FeedSource.objects.all()
    serializer_class = FeedSerializer
    filterset_fields = ["enabled"]

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> FeedSource:
        return feed_create(workspace=workspace, actor=self.request.user, **fields)


class FeedDetailApi(WorkspaceDetailApi):
    read_scope = "events:read"
    queryset = FeedSource.objects.all()
    serializer_class = FeedSerializer


class RecurringBriefListCreateApi(WorkspaceRowCreate, WorkspaceListApi):
    """Briefs created on a cron schedule in an IANA time zone."""

    read_scope, write_scope = "events:read", "integrations:write"
    queryset = RecurringBrief.objects.all()
    serializer_class = RecurringBriefSerializer
    filterset_fields = ["enabled"]

    def create(self, workspace: Workspace, fields: dict[str, Any]) -> RecurringBrief:
        return recurring_create(
            workspace=workspace, name=fields["name"], cron=fields["cron"], tz=fields["timezone"],
            content_type_id=fields["content_type"].pk, brief_fields=fields["brief_fields"],
            actor=self.request.user)


class RecurringBriefDetailApi(WorkspaceDetailApi):
    read_scope = "events:read"
    queryset = RecurringBrief.objects.all()
    serializer_class = RecurringBriefSerializer
