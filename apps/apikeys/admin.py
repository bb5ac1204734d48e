"""API keys in the admin: created through the service, the key shown once, revoked by action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from apps.accounts.admin_scoping import ServiceAction, ServiceCreatedAdmin
from apps.accounts.roles import CAN_GOVERN, CAN_VIEW
from apps.accounts.selectors import workspace_require
from apps.apikeys.models import ApiKey, Scope
from apps.apikeys.services import apikey_create, apikey_revoke
from apps.core.errors import DomainError


class ApiKeyForm(forms.ModelForm[ApiKey]):
    scopes = forms.MultipleChoiceField(choices=Scope.choices,
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ("workspace", "user", "name", "scopes")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.instance.pk is None and data.get("workspace") and data.get("user"):
            try:
                workspace_require(data["user"], CAN_VIEW, data["workspace"].pk)
            except DomainError as exc:
                self.add_error("user", str(exc))
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceCreatedAdmin[ApiKey]):
    form = ApiKeyForm
    list_display = ("name", "prefix", "workspace", "user", "scopes", "last_used_at",
                    "revoked_at", "created_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),
                   ("workspace", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "prefix")
    list_select_related = ("workspace", "user")
    actions = ("revoke_keys",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("prefix", "last_used_at", "revoked_at", "created_at")
        return fixed if obj is None else ("workspace", "user", "scopes", *fixed)

    def service_create(self, request: HttpRequest, obj: ApiKey, form: Any) -> ApiKey:
        key, plaintext = apikey_create(workspace=obj.workspace, user=obj.user, name=obj.name,
                                       scopes=form.cleaned_data["scopes"], actor=request.user)
        # The only time the key is ever shown: only its digest is stored.
        self.message_user(request, f"Copy this key now, it is not shown again: {plaintext}",
                          level=messages.WARNING)
        return key

    revoke_keys = ServiceAction[ApiKey](
        description="Revoke the selected keys", done="revoked", roles=CAN_GOVERN,
        act=lambda key, actor: apikey_revoke(key=key, actor=actor),
    )
