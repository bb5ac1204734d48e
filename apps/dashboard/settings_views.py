"""Workspace settings pages: members, API keys, publishing targets, quality gates and approval
policies, model profiles, inbound endpoints, subscriptions and their deliveries.

For the workspace's admins only (CAN_GOVERN, as the REST API and the admin govern them):
every other role is answered 403 on every page, read or write, and sees no Settings link.
Every change goes through the service the API uses. Secrets are write-only: an API key or a
generated signing secret is kept in the server-side session by the request that made it,
which redirects; the next page shows it and drops it, so a refresh neither makes another
nor shows it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from apps.accounts.models import Membership
from apps.accounts.roles import CAN_GOVERN
from apps.accounts.services import member_invite, membership_grant, membership_remove
from apps.apikeys.models import ApiKey
from apps.apikeys.services import apikey_create, apikey_revoke
from apps.briefs.models import ContentType
from apps.core.api import row_found
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.dashboard.settings_forms import (
    ApiKeyForm,
    ApprovalPolicyForm,
    EndpointForm,
    GateForm,
    MemberAddForm,
    MemberRoleForm,
    ModelProfileForm,
    SubscriptionForm,
    TargetForm,
)
from apps.dashboard.views import (
    current_workspace,
    dashboard_view,
    form_saved,
    render_page,
    session_once,
)
from apps.evaluation.models import QualityGate
from apps.evaluation.services import quality_gate_set
from apps.generation.models import ModelProfile
from apps.generation.profile_checks import (
    CHECK_PROMPT,
    CHECK_TOKENS,
    profile_check_create,
    profile_check_latest,
)
from apps.generation.services import (
    model_profile_create,
    model_profile_errors,
    model_profile_update,
)
from apps.integrations.inbound import endpoint_create, endpoint_secret_rotate
from apps.integrations.models import Delivery, InboundEndpoint, Subscription
from apps.integrations.outbound import delivery_redeliver, subscription_create, subscription_enable
from apps.publishing.connectors import target_schema
from apps.publishing.health import target_test_connection
from apps.publishing.models import PublishingTarget, TargetKind
from apps.publishing.targets import target_create, target_update
from apps.reviews.services import approval_policy_for, approval_policy_set

Row = TypeVar("Row", bound=Model)
DELIVERIES_SHOWN = 50


def _admin_workspace(request: HttpRequest) -> Workspace:
    return current_workspace(request, CAN_GOVERN)


def _owned(rows: QuerySet[Row], pk: int, what: str) -> Row:
    """The row `pk` among the workspace's `rows`, else 404 (another workspace's alike), in
    the settings pages' words."""
    return row_found(rows, pk, what, missing="No such {noun} in this workspace.")


SECRET_SESSION_KEY = "settings_secret_once"


def _secret_keep(request: HttpRequest, *, label: str, value: str) -> None:
    """Hold a secret just made for the page the redirect leads to (server side only)."""
    request.session[SECRET_SESSION_KEY] = [label, value]


def _secret_pop(request: HttpRequest) -> tuple[str, str] | None:
    """The secret kept by the request before, once, for the page the user opens: reading it
    drops it. A refused form's page or a live re-read leaves it."""
    kept = session_once(request, SECRET_SESSION_KEY) if request.method == "GET" else None
    return (kept[0], kept[1]) if kept else None


def _settings(request: HttpRequest, template: str, workspace: Workspace, *,
              forms: tuple[Any, ...] = (), status: int = 200, **context: Any) -> HttpResponse:
    """A settings page; 400 when one of its bound forms was refused."""
    if status == 200 and any(f is not None and f.is_bound and f.errors for f in forms):
        status = 400
    return render_page(request, f"dashboard/settings/{template}", workspace, status=status,
                       **context)


@dashboard_view("GET")
def settings_index(request: HttpRequest) -> HttpResponse:
    workspace = _admin_workspace(request)
    counts = {
        "members": Membership.objects.filter(workspace=workspace).count(),
        "api_keys": ApiKey.objects.filter(workspace=workspace, revoked_at=None).count(),
        "targets": PublishingTarget.objects.filter(workspace=workspace).count(),
        "content_types": ContentType.objects.filter(workspace=workspace).count(),
        "profiles": ModelProfile.objects.filter(workspace=workspace).count(),
        "endpoints": InboundEndpoint.objects.filter(workspace=workspace).count(),
        "subscriptions": Subscription.objects.filter(workspace=workspace).count(),
    }
    return _settings(request, "index.html", workspace, counts=counts)


# Members


def _members_page(request: HttpRequest, workspace: Workspace, *, form: MemberAddForm | None = None,
                  error: str = "", status: int = 200) -> HttpResponse:
    members = Membership.objects.filter(workspace=workspace).select_related("user").order_by(
        "user__username")
    return _settings(request, "members.html", workspace, forms=(form,), status=status,
                     members=members, form=form or MemberAddForm(), role_form=MemberRoleForm(),
                     error=error)


@dashboard_view("GET", "POST")
def members(request: HttpRequest) -> HttpResponse:
    """The members and their roles; adding a username that has no account yet invites them:
    an account without a password, and an email with the link to set one."""
    workspace = _admin_workspace(request)
    if request.method == "GET":
        return _members_page(request, workspace)
    form = MemberAddForm(request.POST)
    invite = form_saved(form, lambda fields: member_invite(
        workspace=workspace, actor=request.user, site_url=request.build_absolute_uri("/"),
        **fields))
    if invite is not None:
        _, membership, invited = invite
        done = f"{membership.user.get_username()} is {membership.get_role_display()} here."
        if invited:
            done += f" An invitation to set a password was sent to {membership.user.email}."
        messages.success(request, done)
        return redirect("dashboard:settings_members")
    return _members_page(request, workspace, form=form)


@dashboard_view("POST")
def member_change(request: HttpRequest, member_id: int) -> HttpResponse:
    """Change a member's role, or remove them (`remove`); the last admin stays."""
    workspace = _admin_workspace(request)
    membership = _owned(Membership.objects.filter(workspace=workspace).select_related("user"),
                        member_id, "member")
    form = MemberRoleForm(request.POST)
    name = membership.user.get_username()
    try:
        if request.POST.get("remove"):
            membership_remove(membership=membership, actor=request.user)
            done = f"{name} was removed."
        elif form.is_valid():
            membership_grant(user=membership.user, workspace=workspace, actor=request.user,
                             role=form.cleaned_data["role"])
            done = f"{name} is {form.cleaned_data['role']} here."
        else:
            return _members_page(request, workspace, error="Choose a role.", status=400)
    except DomainError as exc:
        return _members_page(request, workspace, error=str(exc), status=exc.status_code)
    messages.success(request, done)
    return redirect("dashboard:settings_members")


# API keys


@dashboard_view("GET", "POST")
def api_keys(request: HttpRequest) -> HttpResponse:
    """The workspace's keys; a key made here is shown once, on the page the creation
    redirects to, and never again."""
    workspace = _admin_workspace(request)
    form = ApiKeyForm(request.POST or None, workspace_id=workspace.pk)
    made = form_saved(form, lambda fields: apikey_create(
        workspace=workspace, actor=request.user, **fields))
    if made is not None:
        key, plaintext = made
        _secret_keep(request, label=f"Your new API key {key.name}", value=plaintext)
        return redirect("dashboard:settings_api_keys")
    keys = ApiKey.objects.filter(workspace=workspace).select_related("user").order_by(
        "revoked_at", "-created_at")
    return _settings(request, "api_keys.html", workspace, forms=(form,), form=form, keys=keys,
                     secret=_secret_pop(request))


@dashboard_view("POST")
def api_key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    key = _owned(ApiKey.objects.filter(workspace=workspace), api_key_id, "API key")
    apikey_revoke(key=key, actor=request.user)
    messages.success(request, f"The key {key.name} is revoked.")
    return redirect("dashboard:settings_api_keys")


# Publishing targets


@dashboard_view("GET")
def targets(request: HttpRequest) -> HttpResponse:
    """The targets with their health: paused or not and why, the last connection check."""
    workspace = _admin_workspace(request)
    rows = PublishingTarget.objects.filter(workspace=workspace).order_by("name")
    return _settings(request, "targets.html", workspace, targets=rows, kinds=TargetKind.choices,
                     now=timezone.now())


def _target_page(request: HttpRequest, workspace: Workspace, form: TargetForm, kind: str,
                 target: PublishingTarget | None = None) -> HttpResponse:
    return _settings(request, "target_form.html", workspace, forms=(form,), form=form,
                     target=target, kind_label=TargetKind(kind).label, kind=kind,
                     now=timezone.now())


@dashboard_view("GET", "POST")
def target_new(request: HttpRequest) -> HttpResponse:
    """A new target of the kind asked for (`kind`), its fields from the connector's schema."""
    workspace = _admin_workspace(request)
    kind = request.POST.get("kind") or request.GET.get("kind", "")
    if kind not in TargetKind.values:
        raise DomainError("Choose a kind of target.")
    form = TargetForm(request.POST or None, schema=target_schema(kind), secret_stored=False)
    target = form_saved(form, lambda fields: target_create(
        workspace=workspace, kind=kind, actor=request.user, secret=fields.get("secret", ""),
        **form.target_fields()))
    if target is not None:
        messages.success(request, f"Target {target.name} created.")
        return redirect("dashboard:settings_target", target_id=target.pk)
    return _target_page(request, workspace, form, kind)


@dashboard_view("GET", "POST")
def target_edit(request: HttpRequest, target_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    target = _owned(PublishingTarget.objects.filter(workspace=workspace), target_id, "target")
    form = TargetForm(request.POST or None, schema=target_schema(target.kind),
                      secret_stored=bool(target.secret_encrypted), config=target.config,
                      initial={"name": target.name, "enabled": target.enabled,
                               "auto_publish": target.auto_publish,
                               "min_interval_s": target.min_interval_s})
    if form_saved(form, lambda fields: target_update(
            target=target, actor=request.user, secret=fields.get("secret") or None,
            **form.target_fields())) is not None:
        messages.success(request, f"Target {target.name} saved.")
        return redirect("dashboard:settings_target", target_id=target.pk)
    return _target_page(request, workspace, form, target.kind, target)


@dashboard_view("POST")
def target_test(request: HttpRequest, target_id: int) -> HttpResponse:
    """Test the connection: one authenticated request; the outcome is the target's last
    check (refused credentials pause it)."""
    workspace = _admin_workspace(request)
    target = _owned(PublishingTarget.objects.filter(workspace=workspace), target_id, "target")
    ok, message = target_test_connection(target=target)
    (messages.success if ok else messages.error)(request, message)
    return redirect("dashboard:settings_target", target_id=target.pk)


# Quality gates and approval policies, per content type


@dashboard_view("GET")
def content_types(request: HttpRequest) -> HttpResponse:
    workspace = _admin_workspace(request)
    rows = (ContentType.objects.filter(workspace=workspace).order_by("name")
            .select_related("approval_policy")
            .annotate(gates=Count("quality_gates", filter=Q(quality_gates__enabled=True))))
    return _settings(request, "content_types.html", workspace, content_types=rows)


def _content_type_page(request: HttpRequest, workspace: Workspace, content_type: ContentType,
                       *, gate_form: GateForm | None = None,
                       policy_form: ApprovalPolicyForm | None = None,
                       status: int = 200) -> HttpResponse:
    gate = QualityGate.objects.filter(content_type=content_type, target=None).first()
    policy = approval_policy_for(content_type.pk)
    gate_form = gate_form or GateForm(initial={
        "name": gate.name if gate else f"{content_type.name} gate",
        "rules": gate.rules if gate else [], "weights": gate.weights if gate else {}})
    policy_form = policy_form or ApprovalPolicyForm(workspace_id=workspace.pk, initial={
        name: getattr(policy, name) for name in ApprovalPolicyForm.base_fields})
    target_gates = QualityGate.objects.filter(content_type=content_type).exclude(
        target=None).select_related("target")
    return _settings(request, "content_type.html", workspace, forms=(gate_form, policy_form),
                     status=status, content_type=content_type, gate=gate,
                     gate_form=gate_form, policy_form=policy_form, target_gates=target_gates)


def _content_type(workspace: Workspace, content_type_id: int) -> ContentType:
    return _owned(ContentType.objects.filter(workspace=workspace), content_type_id,
                  "content type")


@dashboard_view("GET")
def content_type_settings(request: HttpRequest, content_type_id: int) -> HttpResponse:
    """A content type's general quality gate and its approval policy."""
    workspace = _admin_workspace(request)
    return _content_type_page(request, workspace, _content_type(workspace, content_type_id))


@dashboard_view("POST")
def gate_save(request: HttpRequest, content_type_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    content_type = _content_type(workspace, content_type_id)
    form = GateForm(request.POST)
    if form_saved(form, lambda fields: quality_gate_set(
            content_type=content_type, actor=request.user, **fields), refused=ValueError
    ) is not None:
        messages.success(request, "Quality gate saved.")
        return redirect("dashboard:settings_content_type", content_type_id=content_type.pk)
    return _content_type_page(request, workspace, content_type, gate_form=form)


@dashboard_view("POST")
def policy_save(request: HttpRequest, content_type_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    content_type = _content_type(workspace, content_type_id)
    form = ApprovalPolicyForm(request.POST, workspace_id=workspace.pk)
    if form_saved(form, lambda fields: approval_policy_set(
            content_type_id=content_type.pk, actor=request.user, **fields)) is not None:
        messages.success(request, "Approval policy saved.")
        return redirect("dashboard:settings_content_type", content_type_id=content_type.pk)
    return _content_type_page(request, workspace, content_type, policy_form=form)


# Model profiles


def _profile_saved(request: HttpRequest, workspace: Workspace, form: ModelProfileForm,
                   profile: ModelProfile | None) -> ModelProfile | None:
    """Create or update from a valid form; the deployment's refusals land on their fields."""
    fields = form.profile_fields()
    errors = model_profile_errors(workspace_id=workspace.pk, backend=fields["backend"],
                                  model=fields["model"], queue=fields["queue"],
                                  base_url=fields["base_url"], api_key_env=fields["api_key_env"])
    for field, error in errors.items():
        form.add_error(field, error)
    if errors:
        return None
    api_key = form.cleaned_data["api_key"] or None  # empty keeps the stored key
    try:
        if profile is None:
            return model_profile_create(workspace_id=workspace.pk, api_key=api_key,
                                        actor=request.user, **fields)
        return model_profile_update(profile=profile, api_key=api_key, actor=request.user,
                                    **fields)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return None


@dashboard_view("GET", "POST")
def model_profiles(request: HttpRequest) -> HttpResponse:
    workspace = _admin_workspace(request)
    form = ModelProfileForm(request.POST or None, key_stored=False)
    if request.method == "POST" and form.is_valid():
        profile = _profile_saved(request, workspace, form, None)
        if profile is not None:
            messages.success(request, f"Model profile {profile.name} created.")
            return redirect("dashboard:settings_model_profiles")
    profiles = ModelProfile.objects.filter(workspace=workspace).order_by("name")
    return _settings(request, "model_profiles.html", workspace, forms=(form,), form=form,
                     profiles=profiles)


@dashboard_view("GET", "POST")
def model_profile_edit(request: HttpRequest, profile_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    profile = _owned(ModelProfile.objects.filter(workspace=workspace), profile_id,
                     "model profile")
    form = ModelProfileForm(request.POST or None, key_stored=bool(profile.api_key_encrypted),
                            initial={name: getattr(profile, name)
                                     for name in ModelProfileForm.base_fields})
    if request.method == "POST" and form.is_valid() and _profile_saved(
            request, workspace, form, profile) is not None:
        messages.success(request, f"Model profile {profile.name} saved.")
        return redirect("dashboard:settings_model_profile", profile_id=profile.pk)
    return _settings(request, "model_profile.html", workspace, forms=(form,), form=form,
                     profile=profile, check=profile_check_latest(profile=profile),
                     check_prompt=CHECK_PROMPT, check_tokens=CHECK_TOKENS)


@dashboard_view("POST")
def model_profile_check(request: HttpRequest, profile_id: int) -> HttpResponse:
    """A short test generation by the profile's model, on its queue; the profile's page
    shows it as the worker writes it."""
    workspace = _admin_workspace(request)
    profile = _owned(ModelProfile.objects.filter(workspace=workspace), profile_id,
                     "model profile")
    try:
        profile_check_create(profile=profile, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("dashboard:settings_model_profile", profile_id=profile.pk)


# Inbound endpoints, outbound subscriptions and their deliveries


def _signing_secret_shown(request: HttpRequest, *, name: str, secret: str) -> HttpResponse:
    _secret_keep(request, label=f"Signing secret of {name}", value=secret)
    return redirect("dashboard:settings_webhooks")


def _webhooks_page(request: HttpRequest, workspace: Workspace, *,
                   refused: EndpointForm | SubscriptionForm | None = None) -> HttpResponse:
    """The webhooks page, with `refused` (sent back with its errors) in place of its blank form."""
    now = timezone.now()
    endpoints = (InboundEndpoint.objects.filter(workspace=workspace).select_related("content_type")
                 .annotate(active_secrets=Count("secrets", filter=Q(secrets__expires_at=None)
                                                | Q(secrets__expires_at__gt=now)))
                 .order_by("name"))
    deliveries = (Delivery.objects.filter(subscription__workspace=workspace)
                  .select_related("subscription").order_by("-created_at")[:DELIVERIES_SHOWN])
    return _settings(
        request, "webhooks.html", workspace, forms=(refused,),
        endpoints=endpoints, deliveries=deliveries,
        secret=_secret_pop(request),
        subscriptions=Subscription.objects.filter(workspace=workspace).order_by("name"),
        endpoint_form=refused if isinstance(refused, EndpointForm)
        else EndpointForm(workspace_id=workspace.pk),
        subscription_form=refused if isinstance(refused, SubscriptionForm) else SubscriptionForm())


def _made_with_secret(request: HttpRequest, workspace: Workspace,
                      form: EndpointForm | SubscriptionForm,
                      create: Callable[[dict[str, Any]], tuple[Any, str]]) -> HttpResponse:
    """`create` an endpoint or a subscription from a valid form, then show its signing secret
    once (after the redirect); else the webhooks page with the form refused."""
    made = form_saved(form, create)
    if made is None:
        return _webhooks_page(request, workspace, refused=form)
    row, secret = made
    return _signing_secret_shown(request, name=row.name, secret=secret)


@dashboard_view("GET")
def webhooks(request: HttpRequest) -> HttpResponse:
    """Inbound endpoints, outbound subscriptions and the latest deliveries."""
    return _webhooks_page(request, _admin_workspace(request))


@dashboard_view("POST")
def endpoint_new(request: HttpRequest) -> HttpResponse:
    """A new inbound endpoint; its signing secret is shown once, on the page it redirects to."""
    workspace = _admin_workspace(request)
    form = EndpointForm(request.POST, workspace_id=workspace.pk)
    return _made_with_secret(request, workspace, form, lambda fields: endpoint_create(
        workspace=workspace, actor=request.user, content_type_id=fields["content_type"].pk,
        **{name: value for name, value in fields.items() if name != "content_type"}))


@dashboard_view("POST")
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """A new secret for the endpoint, shown once; the old ones work one more day."""
    workspace = _admin_workspace(request)
    endpoint = _owned(InboundEndpoint.objects.filter(workspace=workspace), endpoint_id,
                      "endpoint")
    secret = endpoint_secret_rotate(endpoint=endpoint, actor=request.user)
    return _signing_secret_shown(request, name=endpoint.name, secret=secret)


@dashboard_view("POST")
def subscription_new(request: HttpRequest) -> HttpResponse:
    """A new subscription; its signing secret is shown once, on the page it redirects to."""
    workspace = _admin_workspace(request)
    form = SubscriptionForm(request.POST)
    return _made_with_secret(request, workspace, form, lambda fields: subscription_create(
        workspace=workspace, actor=request.user, **fields))


@dashboard_view("POST")
def subscription_enable_view(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Enable a subscription again (after failures disabled it), starting afresh."""
    workspace = _admin_workspace(request)
    subscription = _owned(Subscription.objects.filter(workspace=workspace), subscription_id,
                          "subscription")
    subscription_enable(subscription=subscription, actor=request.user)
    messages.success(request, f"Subscription {subscription.name} is enabled.")
    return redirect("dashboard:settings_webhooks")


@dashboard_view("POST")
def delivery_redeliver_view(request: HttpRequest, delivery_id: int) -> HttpResponse:
    workspace = _admin_workspace(request)
    delivery = _owned(Delivery.objects.filter(subscription__workspace=workspace)
                      .select_related("subscription"), delivery_id, "delivery")
    delivery_redeliver(delivery=delivery, actor=request.user)
    messages.success(request, f"Delivery {delivery.pk} is sent again.")
    return redirect("dashboard:settings_webhooks")
