"""What every app's admin shares: each permission is checked against the user's role in
the row's workspace, and states move only through admin actions that call services."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.roles import role_allows
from apps.accounts.selectors import roles_by_workspace, workspace_require
from apps.core.errors import DomainError
from apps.core.forms import CheckedJSONField
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record

M = TypeVar("M", bound=models.Model)


def _roles(request: HttpRequest) -> dict[int, str]:
    """The user's role per workspace, read once per request."""
    cached = getattr(request, "_workspace_roles", None)
    if cached is None:
        cached = roles_by_workspace(request.user)
        request._workspace_roles = cached  # type: ignore[attr-defined]  # a per-request memo
    return cached


class WorkspaceScopedAdmin(admin.ModelAdmin[M]):
    """Every permission is checked per object against the user's role in that object's
    workspace (apps.accounts.roles), never through global groups: admin in one workspace
    and reviewer in another is a reviewer there. Rows, and the choices forms offer, are
    those of workspaces where the role allows the action. Every change made here is
    written to the platform's audit log as well as to Django's admin log.

    `workspace_path` is the lookup from the model to its Workspace id.
    """

    workspace_path = "workspace_id"
    # JSON typed into a form is checked like the API's (depth, NaN, NUL): a form error, never
    # a 500; a URL without a scheme means https (Django 6's default).
    formfield_overrides = {models.JSONField: {"form_class": CheckedJSONField},
                           models.URLField: {"assume_scheme": "https"}}

    def _workspaces(self, request: HttpRequest, action: str) -> list[int]:
        meta = self.model._meta
        return [workspace_id for workspace_id, role in _roles(request).items()
                if role_allows(role, meta.app_label, meta.model_name or "", action)]

    def workspace_of(self, obj: models.Model) -> int:
        value: Any = obj
        for step in self.workspace_path.split("__"):
            value = getattr(value, step)
        return int(value)

    def _allows(self, request: HttpRequest, action: str, obj: Any) -> bool:
        if request.user.is_superuser:
            return True
        allowed = self._workspaces(request, action)
        if obj is None:
            return bool(allowed)
        return self.workspace_of(obj) in allowed

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and self._allows(
            request, "view", None)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allows(request, "view", obj) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # `obj` is an inline's parent, not a row of this model.
        return self._allows(request, "add", None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allows(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allows(request, "delete", obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.workspace_path}__in": self._workspaces(request, "view")})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            # Only workspaces where the user may write rows of this model, and their rows.
            writable = set(self._workspaces(request, "add")) | set(
                self._workspaces(request, "change"))
            related = db_field.remote_field.model
            if related is Workspace:
                kwargs["queryset"] = Workspace.objects.filter(pk__in=writable)
            elif related is get_user_model():
                kwargs["queryset"] = related._default_manager.filter(
                    memberships__workspace_id__in=writable).distinct()
            elif any(f.name == "workspace" for f in related._meta.fields):
                kwargs["queryset"] = related._default_manager.filter(workspace_id__in=writable)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _audit(self, request: HttpRequest, obj: models.Model, verb: str,
               after: dict[str, Any]) -> None:
        audit_record(workspace_id=self.workspace_of(obj), action=f"admin.{verb}", subject=obj,
                     actor=request.user, after={"model": obj._meta.label, **after})

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "added", {"object": str(obj)})
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        changed = sorted({field for entry in message if isinstance(entry, dict)
                          for field in entry.get("changed", {}).get("fields", [])})
        self._audit(request, obj, "changed", {"object": str(obj), "fields": changed})
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[M]) -> Any:
        for obj in queryset:
            self._audit(request, obj, "deleted", {"object": str(obj)})
        return super().log_deletions(request, queryset)


class ReadOnlyAdmin(WorkspaceScopedAdmin[M]):
    """Rows written only by services and workers: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_service_permission(self, request: HttpRequest) -> bool:
        """For actions: the model's change permission, which the forms here never use."""
        return super().has_change_permission(request)


class ServiceCreateForm(forms.ModelForm[Any]):
    """An add form whose last check is the admin's service making the row."""

    model_admin: ServiceCreatedAdmin[Any]
    request: HttpRequest
    created: models.Model | None = None

    def validate_unique(self) -> None:  # the model form's last check, on the built instance
        super().validate_unique()
        if self.errors:
            return
        try:
            with transaction.atomic():  # a refusal leaves nothing written
                self.created = self.model_admin.service_create(self.request, self.instance, self)
        except DomainError as exc:
            self.add_error(None, str(exc))


class ServiceCreatedAdmin(WorkspaceScopedAdmin[M]):
    """Rows added here are made by their app's service (it audits them, checks what the
    form cannot, and may make a secret to show once); the form only edits them. The service
    runs as the add form's last check, so a refusal is the form's error, shown above what
    was typed, and nothing is written or logged."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form_class: Any = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form_class
        # As modelform_factory makes a form class: through the form's own metaclass.
        return type(form_class)(f"Create{form_class.__name__}", (ServiceCreateForm, form_class),
                                {"model_admin": self, "request": request})

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.pk = form.created.pk
        obj.refresh_from_db()

    def service_create(self, request: HttpRequest, obj: M, form: Any) -> M:
        """The row the service made from the form's unsaved `obj`; a DomainError refuses."""
        raise NotImplementedError


class ReadOnlyInline(admin.TabularInline[M, models.Model]):
    """Rows shown under their parent: whoever may open the parent (checked per object by its
    WorkspaceScopedAdmin) may see them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ServiceAction(Generic[M]):
    """An admin action that calls a service per selected row, for a user with one of `roles`
    in the row's workspace (the admin's `workspace_path`), and reports each success or
    refusal, never a 500. Declared as an attribute of the admin, it takes that attribute's
    name: the one the changelist posts as `action` and `actions` lists.

    A refusal (a DomainError: an illegal edge, a missing role) is the
    service's own message at error level; the other rows still run.
    """

    __name__: str

    def __init__(self, *, description: str, done: str, roles: Iterable[str],
                 act: Callable[[M, Actor], object], permissions: Sequence[str] | None = None,
                 select_related: Sequence[str] = ()) -> None:
        admin.action(self, description=description, permissions=permissions)
        self.done = done
        self.roles = tuple(roles)
        self.act = act
        self.select_related = tuple(select_related)

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__ = name

    def __call__(self, model_admin: WorkspaceScopedAdmin[M], request: HttpRequest,
                 queryset: QuerySet[M]) -> None:
        # Django calls an action it finds on the admin's class with the admin first, as an
        # unbound method.
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        for obj in queryset:
            try:
                if not request.user.is_superuser:
                    workspace_require(request.user, self.roles, model_admin.workspace_of(obj))
                self.act(obj, request.user)
            except DomainError as exc:
                model_admin.message_user(request, f"{obj}: {exc}", level=messages.ERROR)
            else:
                model_admin.message_user(request, f"{obj}: {self.done}.", level=messages.SUCCESS)
