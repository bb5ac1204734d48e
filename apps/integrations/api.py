"""Integrations over REST: the inbound hook, endpoints, subscriptions and their deliveries."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.integrations.inbound import PayloadTooLarge, inbound_receive

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


class InboundHookApi(APIView):
    """Signed pushes from other systems; the signature is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = AutoSchema()

    @extend_schema(
        operation_id="hooks_receive", parameters=HOOK_HEADERS, tags=["hooks"],
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={202: Accepted, 400: Problem, 401: Problem, 404: Problem, 409: Problem,
                   413: Problem, 422: Problem},
        examples=[OpenApiExample("A CMS article", request_only=True, value={
            "id": "post-881", "article": {"headline": "Rain gardens", "summary": "How to plan one"},
            "tags": ["garden"]}),
            OpenApiExample("Accepted", response_only=True, status_codes=["202"], value={
                "brief_id": 42, "state": "queued", "status_url": "/api/v1/briefs/42/"})],
    )
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
