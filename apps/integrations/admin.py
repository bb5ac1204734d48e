"""Integrations in the admin: secrets shown once, state changed only through services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.admin_scoping import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAction,
    ServiceCreatedAdmin,
    WorkspaceScopedAdmin,
)
from apps.accounts.roles import CAN_SUBMIT_BRIEFS
from apps.core.egress import egress_url_error
from apps.core.errors import DomainError
from apps.integrations import models
from apps.integrations.inbound import endpoint_create, endpoint_secret_rotate, mapping_validate
from apps.integrations.outbound import (
    delivery_redeliver,
    event_types_validate,
    subscription_create,
    subscription_enable,
)
from apps.integrations.sources import recurring_create, schedule_next


def _show_once(model_admin: admin.ModelAdmin[Any], request: HttpRequest, secret: str) -> None:
    model_admin.message_user(request, f"Copy this signing secret now, it is not shown again: "
                             f"{secret}", level=messages.WARNING)


class EndpointForm(forms.ModelForm[models.InboundEndpoint]):
    class Meta:
        model = models.InboundEndpoint
        fields = ("workspace", "name", "slug", "content_type", "field_mapping", "defaults",
                  "max_body_bytes", "enabled")

    def clean_field_mapping(self) -> dict[str, Any]:
        mapping = self.cleaned_data["field_mapping"] or {}
        try:
            mapping_validate(mapping)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return mapping


@admin.register(models.InboundEndpoint)
class InboundEndpointAdmin(ServiceCreatedAdmin[models.InboundEndpoint]):
    form = EndpointForm
    list_display = ("name", "slug", "workspace", "content_type", "enabled", "updated_at")
    list_filter = ("enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "slug")
    list_select_related = ("workspace", "content_type")
    actions = ("rotate_secrets",)

    def service_create(self, request: HttpRequest, obj: models.InboundEndpoint,
                       form: Any) -> models.InboundEndpoint:
        endpoint, secret = endpoint_create(
            workspace=obj.workspace, name=obj.name, slug=obj.slug,
            content_type_id=obj.content_type_id, field_mapping=obj.field_mapping,
            defaults=obj.defaults, actor=request.user)
        _show_once(self, request, secret)
        return endpoint

    @admin.action(description="Rotate the signing secret (old ones valid for a day)")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[models.InboundEndpoint]) -> None:
        for endpoint in queryset:
            _show_once(self, request, endpoint_secret_rotate(endpoint=endpoint,
                                                             actor=request.user))


class SubscriptionForm(forms.ModelForm[models.Subscription]):
    url = forms.URLField(max_length=1000, assume_scheme="https")  # Django 6's default

    class Meta:
        model = models.Subscription
        fields = ("workspace", "name", "url", "event_types")

    def clean_url(self) -> str:
        """Also on a change, which saves without the service: the workers' egress policy."""
        url: str = self.cleaned_data["url"]
        if refusal := egress_url_error(url):
            raise forms.ValidationError(f"The workers may not send to this URL: {refusal}")
        return url

    def clean_event_types(self) -> list[str]:
        try:
            return event_types_validate(self.cleaned_data["event_types"] or [])
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(models.Subscription)
class SubscriptionAdmin(ServiceCreatedAdmin[models.Subscription]):
    form = SubscriptionForm
    list_display = ("name", "url", "workspace", "event_types", "enabled", "disabled_reason",
                    "failing_since")
    list_filter = ("enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "url")
    list_select_related = ("workspace",)
    readonly_fields = ("enabled", "failing_since", "consecutive_failures", "paused_until",
                       "disabled_reason", "created_at", "updated_at")
    actions = ("enable_subscriptions",)

    def service_create(self, request: HttpRequest, obj: models.Subscription,
                       form: Any) -> models.Subscription:
        subscription, secret = subscription_create(
            workspace=obj.workspace, name=obj.name, url=obj.url, event_types=obj.event_types,
            actor=request.user)
        _show_once(self, request, secret)
        return subscription

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # The notice of automatic disabling: shown until someone enables the subscription again.
        for subscription in self.get_queryset(request).filter(enabled=False).exclude(
                disabled_reason=""):
            self.message_user(request, f"Webhook subscription '{subscription.name}' was "
                              f"disabled: {subscription.disabled_reason}", level=messages.ERROR)
        return super().changelist_view(request, extra_context)

    enable_subscriptions = ServiceAction[models.Subscription](
        description="Enable the selected subscriptions", done="enabled", roles=CAN_SUBMIT_BRIEFS,
        act=lambda s, actor: subscription_enable(subscription=s, actor=actor),
    )


class DeliveryAttemptInline(ReadOnlyInline[models.DeliveryAttempt]):
    model = models.DeliveryAttempt
    fields = ("number", "response_status", "latency_ms", "error", "created_at")
    readonly_fields = fields
    show_change_link = False


@admin.register(models.Delivery)
class DeliveryAdmin(ReadOnlyAdmin[models.Delivery]):
    workspace_path = "subscription__workspace_id"
    list_display = ("id", "subscription", "event_type", "state", "attempts", "response_status",
                    "latency_ms", "next_attempt_at", "created_at")
    list_filter = ("state", "event_type")
    search_fields = ("=event_id", "event_type")
    list_select_related = ("subscription",)
    inlines = (DeliveryAttemptInline,)
    actions = ("redeliver",)

    redeliver = ServiceAction[models.Delivery](
        description="Deliver the selected again", done="queued for delivery",
        roles=CAN_SUBMIT_BRIEFS, act=lambda d, actor: delivery_redeliver(delivery=d, actor=actor),
    )


@admin.register(models.FeedSource)
class FeedSourceAdmin(WorkspaceScopedAdmin[models.FeedSource]):
    list_display = ("name", "url", "workspace", "content_type", "enabled", "last_polled_at",
                    "last_error")
    list_filter = ("enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "url")
    list_select_related = ("workspace", "content_type")


class RecurringForm(forms.ModelForm[models.RecurringBrief]):
    class Meta:
        model = models.RecurringBrief
        fields = ("workspace", "name", "cron", "timezone", "content_type", "brief_fields",
                  "enabled")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("cron") and data.get("timezone"):
            try:
                schedule_next(cron=data["cron"], tz=data["timezone"], after=timezone.now())
            except DomainError as exc:
                self.add_error("cron" if "cron" in str(exc) else "timezone", str(exc))
        return data


@admin.register(models.RecurringBrief)
class RecurringBriefAdmin(ServiceCreatedAdmin[models.RecurringBrief]):
    form = RecurringForm
    list_display = ("name", "cron", "timezone", "workspace", "enabled", "next_run_at",
                    "last_run_at")
    list_filter = ("enabled", ("workspace", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("workspace",)

    def service_create(self, request: HttpRequest, obj: models.RecurringBrief,
                       form: Any) -> models.RecurringBrief:
        return recurring_create(
            workspace=obj.workspace, name=obj.name, cron=obj.cron, tz=obj.timezone,
            content_type_id=obj.content_type_id, brief_fields=obj.brief_fields,
            actor=request.user)
