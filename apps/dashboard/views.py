"""Server-rendered dashboard pages; every change goes through a service.

A DomainError becomes a page with its status (403, 404, 409) and the
domain's own message, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.accounts.api_auth import workspace_id_parse
from apps.accounts.models import Membership
from apps.accounts.profiles import (
    profile_time_zone_from_browser,
    profile_time_zone_set,
    user_time_zone,
)
from apps.accounts.roles import CAN_GOVERN, CAN_REVIEW, CAN_SUBMIT_BRIEFS, CAN_TRAIN, CAN_VIEW
from apps.accounts.selectors import membership_for, signed_in, workspace_require
from apps.briefs.models import BriefState, ContentBrief, Origin
from apps.briefs.selectors import brief_get
from apps.core.errors import DomainError, NotFound, PermissionDenied
from apps.core.models import Workspace
from apps.dashboard import selectors
from apps.dashboard.charts import charts_json, insights_charts
from apps.dashboard.forms import (
    ApproveForm,
    AssignForm,
    BriefForm,
    BulkForm,
    CommentForm,
    EditForm,
    GuestDecisionForm,
    GuestLinkForm,
    ProfileForm,
    PublishForm,
    QueueFilterForm,
    RejectForm,
    RequestChangesForm,
    TrainingStartForm,
    WorkspaceSwitchForm,
)
from apps.dashboard.insights import insights
from apps.dashboard.services import BULK_ACTIONS, ROUND_ROBIN, assign_choice, queue_bulk_act
from apps.generation.models import Draft
from apps.generation.selectors import training_run_get, training_runs
from apps.generation.training import training_run_create
from apps.notifications.selectors import notifications_recent, notifications_unread_count
from apps.notifications.services import notifications_mark_read
from apps.publishing.connectors import PublishError
from apps.publishing.connectors.base import Preview
from apps.publishing.models import Publication, PublishingTarget
from apps.publishing.selectors import publication_preview, publications_of_revision
from apps.publishing.services import PUBLISHABLE_BRIEF_STATES, publication_holds_target
from apps.reviews.services import (
    comment_add,
    draft_lock_acquire,
    draft_lock_release,
    guest_link_create,
    guest_link_open,
    revision_edit,
)
from apps.workflow.selectors import brief_lineage
from apps.workflow.services import (
    brief_create,
    brief_publish,
    guest_decide,
    review_approve,
    review_reject,
    review_request_changes,
)

View = Callable[..., HttpResponse]
Saved = TypeVar("Saved")


def domain_errors(view: View) -> View:
    """Turn a refusal from a selector or service into an error page with its status."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return render(request, "dashboard/error.html", {"message": str(exc)},
                          status=exc.status_code)

    return wrapped


def dashboard_view(*methods: str) -> Callable[[View], View]:
    """A signed-in user's view: it answers `methods` only (else 405), sends anyone else to
    the login page, and shows a refusal from a selector or service as an error page."""

    def decorate(view: View) -> View:
        return require_http_methods(list(methods))(login_required(domain_errors(view)))

    return decorate


def form_saved(form: BaseForm, save: Callable[[dict[str, Any]], Saved], *,
               refused: type[Exception] = DomainError, field: str | None = None) -> Saved | None:
    """`save(cleaned_data)` when the form is valid, else None (an unbound form, a GET's, is
    never valid); a refusal by the service lands on the form as its error (on `field`, else
    the whole form's), and is None too."""
    if not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except refused as exc:
        form.add_error(field, str(exc))
        return None


def current_workspace(request: HttpRequest, roles: Iterable[str]) -> Workspace:
    """The workspace the user works in now (chosen in the header, else their first)."""
    chosen = request.session.get("workspace_id")
    if chosen is not None and membership_for(request.user, chosen) is None:
        chosen = None  # membership revoked since it was chosen
        request.session.pop("workspace_id", None)
    return workspace_require(request.user, roles, chosen)


def live_read(request: HttpRequest) -> bool:
    """A live page's re-read of itself (live.js), not a page the user opened: it may run while
    the browser follows a redirect, so it must leave the flash state (messages, the undo
    toast, a secret shown once) to the page that redirect opens."""
    return request.headers.get("X-Live-Read") == "1"


def session_once(request: HttpRequest, key: str) -> Any:
    """What the request before kept in the session for the next page the user opens, taken
    out by that page (a live re-read leaves it)."""
    return None if live_read(request) else request.session.pop(key, None)


def render_page(request: HttpRequest, template: str, workspace: Workspace, status: int = 200,
                **context: Any) -> HttpResponse:
    user = signed_in(request.user)
    if live_read(request):
        context["messages"] = ()  # the view's context wins over the context processor's
    memberships = list(
        Membership.objects.filter(user_id=user.pk).select_related("workspace")
        .order_by("workspace__name")
    )
    role = next((m.role for m in memberships if m.workspace_id == workspace.pk), "")
    context.update(workspace=workspace, memberships=memberships, role=role,
                   unread=notifications_unread_count(user_id=user.pk,
                                                     workspace_id=workspace.pk),
                   can_submit=role in CAN_SUBMIT_BRIEFS, can_review=role in CAN_REVIEW,
                   can_train=role in CAN_TRAIN, can_govern=role in CAN_GOVERN)
    return render(request, template, context, status=status)


@dashboard_view("GET")
def queue(request: HttpRequest) -> HttpResponse:
    """The board (columns by state) or the table (every brief, paged), filtered and searched."""
    workspace = current_workspace(request, CAN_VIEW)
    options = selectors.queue_filter_options(workspace_id=workspace.pk)
    form = QueueFilterForm(request.GET, **options)
    filters = form.filters()
    view = "table" if request.GET.get("view") == "table" else "board"
    # The menu offers only what the user's role allows (the template checks `role`).
    bulk_actions = [(key, label, roles) for key, (label, roles) in BULK_ACTIONS.items()]
    context: dict[str, Any] = {"filter_form": form, "view": view, "bulk_actions": bulk_actions,
                               "filtered": filters != selectors.QueueFilters(),
                               "reviewers": options["reviewers"]}
    if view == "table":
        context["table"] = selectors.queue_table(workspace_id=workspace.pk, filters=filters,
                                                 page=form.cleaned_data.get("page") or 1)
    else:
        context["columns"] = selectors.queue_columns(workspace_id=workspace.pk, filters=filters)
    return render_page(request, "dashboard/queue.html", workspace, **context)


@dashboard_view("POST")
def queue_bulk(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    form = BulkForm(request.POST)
    back = request.POST.get("next") or reverse("dashboard:queue")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("dashboard:queue")  # never redirect off-site
    if not form.is_valid():
        messages.error(request, "Choose an action and at least one brief.")
        return redirect(back)
    result = queue_bulk_act(workspace=workspace, actor=request.user,
                            action=form.cleaned_data["action"],
                            brief_ids=form.cleaned_data["brief_ids"],
                            reviewer=form.cleaned_data["reviewer"] or ROUND_ROBIN,
                            comment=form.cleaned_data["comment"])
    if result.done:
        messages.success(request, f"Done for {len(result.done)} brief(s): "
                                  + ", ".join(result.done))
    for refusal in result.refused:
        messages.error(request, refusal)
    return redirect(back)


@dashboard_view("GET")
def brief_card(request: HttpRequest, brief_id: int) -> HttpResponse:
    """One queue card, for the page's script to insert when a brief appears."""
    workspace = current_workspace(request, CAN_VIEW)
    brief = selectors.queue_card(workspace_id=workspace.pk, brief_id=brief_id)
    return render(request, "dashboard/_brief_card.html", {"brief": brief})


@dashboard_view("GET", "POST")
def brief_new(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request, CAN_SUBMIT_BRIEFS)
    form = BriefForm(request.POST or None, workspace=workspace)
    brief = form_saved(form, lambda fields: brief_create(
        workspace=workspace, created_by=request.user, origin=Origin.DASHBOARD, **fields))
    if brief is not None:
        messages.success(request, f"“{brief.title}” is queued for generation.")
        return redirect("dashboard:brief", brief_id=brief.pk)
    status = 400 if form.errors else 200
    return render_page(request, "dashboard/brief_new.html", workspace, status=status, form=form)


def target_previews(targets: list[PublishingTarget], brief: ContentBrief, text: str
                    ) -> list[tuple[str, Preview | str]]:
    """`text` as each enabled target would receive it; a refusal is shown as its reason."""
    previews: list[tuple[str, Preview | str]] = []
    for target in targets:
        try:
            previews.append((target.name, publication_preview(
                target=target, title=brief.title, text=text, keywords=brief.keywords,
                language=brief.language)))
        except PublishError as exc:
            previews.append((target.name, str(exc)))
    return previews


UNDO_KEY = "dashboard_undo"


def offer_undo(request: HttpRequest, brief: ContentBrief, publications: list[Publication]
               ) -> None:
    """Offer, in the next page's toast, to cancel the publications just scheduled: only to a
    role that may cancel publications."""
    membership = membership_for(request.user, brief.workspace_id)
    if publications and membership is not None and membership.role in CAN_SUBMIT_BRIEFS:
        request.session[UNDO_KEY] = {"brief_id": brief.pk,
                                     "publication_ids": [p.pk for p in publications],
                                     "targets": ", ".join(p.target.name for p in publications)}


def _publish_form(page: selectors.BriefPage) -> PublishForm | None:
    """For a brief that can be published (to more targets), a form offering the enabled
    targets that hold no publication of it, or only a cancelled one (re-opened)."""
    if page.brief.state not in PUBLISHABLE_BRIEF_STATES:
        return None
    held = {p.target_id for p in page.publications if publication_holds_target(p)}
    return PublishForm(targets=[t for t in page.targets if t.pk not in held],
                       auto_id="id_publish_%s")


def _variant_label(draft: selectors.DraftCard, best: bool) -> str:
    scored = draft.scored_by
    return f"Variant {draft.variant}" + (f" · score {scored.score:.3f}" if scored else "") + (
        " (best)" if best else "")


def render_brief_page(request: HttpRequest, workspace: Workspace, brief_id: int, *,
                      status: int = 200, error: str = "", bound: dict[Any, Any] | None = None,
                      guest_url: str = "") -> HttpResponse:
    page = selectors.brief_page(workspace_id=workspace.pk, brief_id=brief_id)
    bound = bound or {}
    reviewable = page.brief.state == BriefState.IN_REVIEW
    for draft in page.drafts:
        draft.edit_form = bound.get(("edit", draft.pk)) or EditForm(
            initial={"text": draft.current_text, "base_revision": draft.revision_number},
            auto_id=f"id_edit{draft.pk}_%s")
        draft.previews = (target_previews(page.targets, page.brief, draft.current_text)
                          if reviewable else [])
    approve_form = bound.get("approve") or ApproveForm(
        targets=page.targets, auto_id="id_approve_%s",
        initial={"draft_id": page.drafts[0].pk if page.drafts else None})
    approve_form.variants_offer([(d.pk, _variant_label(d, best=i == 0 and d.scored_by is not None))
                                 for i, d in enumerate(page.drafts)])
    undo = session_once(request, UNDO_KEY)
    return render_page(
        request, "dashboard/brief_detail.html", workspace, status=status, page=page,
        brief=page.brief, error=error, reviewable=reviewable, approve_form=approve_form,
        undo=undo if undo and undo["brief_id"] == page.brief.pk else None,
        reject_form=bound.get("reject") or RejectForm(auto_id="id_reject_%s"),
        changes_form=bound.get("changes") or RequestChangesForm(auto_id="id_changes_%s"),
        comment_form=bound.get("comment") or CommentForm(auto_id="id_comment_%s"),
        assign_form=AssignForm(reviewers=page.reviewers, auto_id="id_assign_%s", initial={
            "reviewer": page.assignment.reviewer_id if page.assignment else ROUND_ROBIN}),
        guest_form=bound.get("guest") or GuestLinkForm(auto_id="id_guest_%s"),
        guest_url=guest_url, publish_form=bound.get("publish") or _publish_form(page),
        lineage=brief_lineage(workspace_id=workspace.pk, brief_id=brief_id),
    )


@dashboard_view("GET")
def brief_detail(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    return render_brief_page(request, workspace, brief_id)


def _review_action(request: HttpRequest, workspace: Workspace, brief_id: int, form: Any,
                   form_key: Any, decide: Callable[[Any], object], done: str) -> HttpResponse:
    """Run one review action; show the form's or the domain's refusal on the brief page, with
    what the user typed still in the form."""
    brief = brief_get(workspace=workspace, brief_id=brief_id)
    if not form.is_valid():
        return render_brief_page(request, workspace, brief_id, status=400, bound={form_key: form})
    try:
        decide(brief)
    except DomainError as exc:
        return render_brief_page(request, workspace, brief_id, status=exc.status_code,
                                 error=str(exc), bound={form_key: form})
    messages.success(request, done)
    return redirect("dashboard:brief", brief_id=brief_id)


@dashboard_view("POST")
def brief_approve(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_REVIEW)
    form = ApproveForm(request.POST, targets=selectors.targets_enabled(workspace_id=workspace.pk),
                       auto_id="id_approve_%s")

    def approve(brief: ContentBrief) -> None:
        review = review_approve(
            brief=brief, draft_id=form.cleaned_data["draft_id"], reviewer=request.user,
            comment=form.cleaned_data["comment"],
            target_ids=[t.pk for t in form.cleaned_data["targets"]],
            publish_at=form.cleaned_data["publish_at"],
            override_justification=form.cleaned_data["override_justification"],
        )
        if review.revision_id is not None:  # an approval always names its revision
            offer_undo(request, brief, publications_of_revision(
                brief_id=brief.pk, revision_id=review.revision_id))

    return _review_action(request, workspace, brief_id, form, "approve", done="Approved.",
                          decide=approve)


@dashboard_view("POST")
def brief_publish_more(request: HttpRequest, brief_id: int) -> HttpResponse:
    """Publish an approved, scheduled or published brief to more targets; a refusal (the
    brief's state, a target already holding it, a past time) is shown on the form."""
    workspace = current_workspace(request, CAN_SUBMIT_BRIEFS)
    form = PublishForm(request.POST, targets=selectors.targets_enabled(workspace_id=workspace.pk),
                       auto_id="id_publish_%s")
    brief = brief_get(workspace=workspace, brief_id=brief_id)
    if form.is_valid():
        try:
            scheduled = brief_publish(brief=brief, actor=request.user,
                                      target_ids=[t.pk for t in form.cleaned_data["targets"]],
                                      publish_at=form.cleaned_data["publish_at"])
        except DomainError as exc:
            form.add_error(None, str(exc))
            return render_brief_page(request, workspace, brief_id, status=exc.status_code,
                                     bound={"publish": form})
        offer_undo(request, brief, scheduled)
        messages.success(request, f"Scheduled to {len(scheduled)} more target(s).")
        return redirect("dashboard:brief", brief_id=brief_id)
    return render_brief_page(request, workspace, brief_id, status=400, bound={"publish": form})


@dashboard_view("POST")
def brief_reject(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_REVIEW)
    form = RejectForm(request.POST, auto_id="id_reject_%s")
    return _review_action(
        request, workspace, brief_id, form, "reject", done="Rejected.",
        decide=lambda brief: review_reject(brief=brief, reviewer=request.user,
                                           comment=form.cleaned_data["comment"]),
    )


@dashboard_view("POST")
def brief_request_changes(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_REVIEW)
    form = RequestChangesForm(request.POST, auto_id="id_changes_%s")
    return _review_action(
        request, workspace, brief_id, form, "changes",
        done="Changes requested: a new round is queued.",
        decide=lambda brief: review_request_changes(brief=brief, reviewer=request.user,
                                                    feedback=form.cleaned_data["feedback"]),
    )


@dashboard_view("POST")
def workspace_switch(request: HttpRequest) -> HttpResponse:
    form = WorkspaceSwitchForm(request.POST)
    membership = (membership_for(request.user, form.cleaned_data["workspace_id"])
                  if form.is_valid() else None)
    if membership is None:
        raise PermissionDenied("You are not a member of that workspace.")
    request.session["workspace_id"] = membership.workspace_id
    return redirect("dashboard:queue")


def draft_of_brief(workspace: Workspace, brief_id: int, draft_id: int) -> Draft:
    draft = Draft.objects.filter(pk=draft_id, brief_id=brief_id, brief__workspace=workspace).first()
    if draft is None:
        raise NotFound("No such draft in this workspace.")
    return draft


@dashboard_view("POST")
def draft_edit(request: HttpRequest, brief_id: int, draft_id: int) -> HttpResponse:
    """Save an inline edit as a new revision; the page then shows its word diff."""
    workspace = current_workspace(request, CAN_REVIEW)
    draft = draft_of_brief(workspace, brief_id, draft_id)
    form = EditForm(request.POST, auto_id=f"id_edit{draft_id}_%s")
    return _review_action(
        request, workspace, brief_id, form, ("edit", draft_id),
        done="Edit saved as a new revision.",
        decide=lambda brief: revision_edit(draft=draft, text=form.cleaned_data["text"],
                                           author=request.user,
                                           base_revision=form.cleaned_data["base_revision"]),
    )


@dashboard_view("POST")
def draft_lock(request: HttpRequest, brief_id: int, draft_id: int) -> HttpResponse:
    """Take or renew the edit lock (the page's script calls it while the editor is open);
    `release=1` frees it. 409 with the holder's name while someone else edits."""
    workspace = current_workspace(request, CAN_REVIEW)
    draft = draft_of_brief(workspace, brief_id, draft_id)
    if request.POST.get("release"):
        return JsonResponse({"released": draft_lock_release(draft=draft, user=request.user)})
    try:
        lock = draft_lock_acquire(draft=draft, user=request.user)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status_code)
    return JsonResponse({"holder": request.user.get_username(),
                         "expires_at": lock.expires_at.isoformat()})


@dashboard_view("POST")
def brief_comment(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    form = CommentForm(request.POST, auto_id="id_comment_%s")
    return _review_action(
        request, workspace, brief_id, form, "comment", done="Comment added.",
        decide=lambda brief: comment_add(brief=brief, author=request.user,
                                         body=form.cleaned_data["body"],
                                         parent_id=form.cleaned_data["parent_id"],
                                         draft_id=form.cleaned_data["draft_id"]),
    )


@dashboard_view("POST")
def brief_assign(request: HttpRequest, brief_id: int) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    page_reviewers = selectors.reviewers(workspace_id=workspace.pk)
    form = AssignForm(request.POST, reviewers=page_reviewers, auto_id="id_assign_%s")

    return _review_action(request, workspace, brief_id, form, "assign", done="Reviewer assigned.",
                          decide=lambda brief: assign_choice(
                              brief=brief, actor=request.user, choice=form.cleaned_data["reviewer"]))


@dashboard_view("POST")
def brief_guest_link(request: HttpRequest, brief_id: int) -> HttpResponse:
    """Create a guest link and show it once on the page (it is not stored in clear)."""
    workspace = current_workspace(request, CAN_REVIEW)
    form = GuestLinkForm(request.POST, auto_id="id_guest_%s")
    if not form.is_valid():
        return render_brief_page(request, workspace, brief_id, status=400, bound={"guest": form})
    brief = brief_get(workspace=workspace, brief_id=brief_id)
    try:
        _, token = guest_link_create(
            brief=brief, created_by=request.user, guest_name=form.cleaned_data["guest_name"],
            guest_email=form.cleaned_data["guest_email"],
            valid_for=timedelta(days=form.cleaned_data["valid_days"]))
    except DomainError as exc:
        return render_brief_page(request, workspace, brief_id, status=exc.status_code, error=str(exc))
    url = request.build_absolute_uri(reverse("dashboard:guest", args=[token]))
    return render_brief_page(request, workspace, brief_id, guest_url=url)


@dashboard_view("GET", "POST")
def profile(request: HttpRequest) -> HttpResponse:
    """The user's own settings: the time zone times are shown and read in."""
    workspace = current_workspace(request, CAN_VIEW)
    zone = user_time_zone(user=signed_in(request.user), workspace_id=workspace.pk)
    form = ProfileForm(request.POST or None, workspace_zone=workspace.time_zone,
                       initial={"time_zone": zone.name if zone.own else ""})
    if request.method == "POST" and form.is_valid():
        profile_time_zone_set(user=signed_in(request.user), time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
        return redirect("dashboard:profile")
    return render_page(request, "dashboard/profile.html", workspace,
                       status=400 if form.errors else 200, form=form)


@dashboard_view("POST")
def profile_time_zone(request: HttpRequest) -> HttpResponse:
    """The browser's zone (Intl), posted once by the page's script at the first visit;
    kept only while the user has not chosen one."""
    current_workspace(request, CAN_VIEW)
    try:
        kept = profile_time_zone_from_browser(user=signed_in(request.user),
                                              time_zone=request.POST.get("time_zone", ""))
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status_code)
    return JsonResponse({"kept": kept})


@require_http_methods(["GET", "POST"])
@domain_errors
def guest_review(request: HttpRequest, token: str) -> HttpResponse:
    """What an outside approver sees without an account: the drafts, approve or reject."""
    link = guest_link_open(token=token)
    form = GuestDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        review = guest_decide(token=token, decision=form.cleaned_data["decision"],
                              draft_id=form.cleaned_data["draft_id"],
                              comment=form.cleaned_data["comment"])
        return render(request, "dashboard/guest_done.html", {"review": review, "brief": link.brief})
    page = selectors.brief_page(workspace_id=link.brief.workspace_id, brief_id=link.brief_id)
    # A guest has no profile: times in the workspace's zone.
    with timezone.override(ZoneInfo(link.brief.workspace.time_zone)):
        return render(request, "dashboard/guest.html", {"link": link, "page": page, "form": form},
                      status=400 if form.errors else 200)


@dashboard_view("GET")
def notifications(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    notes = notifications_recent(user_id=signed_in(request.user).pk, workspace_id=workspace.pk)
    return render_page(request, "dashboard/notifications.html", workspace, notes=notes)


@dashboard_view("POST")
def notifications_read(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    notifications_mark_read(user_id=signed_in(request.user).pk, workspace_id=workspace.pk)
    return redirect("dashboard:notifications")


@dashboard_view("GET")
def insights_page(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request, CAN_VIEW)
    figures = insights(workspace_id=workspace.pk, days=_days(request))
    charts = insights_charts(figures)
    return render_page(request, "dashboard/insights.html", workspace, figures=figures, charts=charts,
                       charts_json=charts_json(charts))


@dashboard_view("GET")
def insights_json(request: HttpRequest) -> HttpResponse:
    """The insights page's numbers, for scripts and other tools."""
    workspace = current_workspace(request, CAN_VIEW)
    return JsonResponse({"workspace": workspace.pk,
                         **insights(workspace_id=workspace.pk, days=_days(request))})


def _days(request: HttpRequest) -> int:
    raw = request.GET.get("days", "")
    return min(365, max(1, int(raw))) if raw.isdigit() else 30


TRAINING_RUNS_SHOWN = 50


@dashboard_view("GET", "POST")
def training(request: HttpRequest) -> HttpResponse:
    """The workspace's training runs and one run's loss chart (`?run=`, else the newest), which
    training.js extends live; admins start a run here."""
    workspace = current_workspace(request, CAN_TRAIN if request.method == "POST" else CAN_VIEW)
    form = TrainingStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        run = training_run_create(workspace_id=workspace.pk, kind=form.cleaned_data["kind"],
                                  parameters=form.cleaned_data["parameters"], actor=request.user)
        messages.success(request, f"Training run {run.pk} is queued.")
        return redirect(f"{reverse('dashboard:training')}?run={run.pk}")
    runs = list(training_runs(workspace_id=workspace.pk)[:TRAINING_RUNS_SHOWN])
    try:
        shown_id = workspace_id_parse(request.GET.get("run"))  # any 64-bit id parses alike
    except ValueError:
        shown_id = None
    if shown_id is None and runs:
        shown_id = runs[0].pk
    shown = training_run_get(workspace_id=workspace.pk, run_id=shown_id) if shown_id else None
    return render_page(request, "dashboard/training.html", workspace,
                       status=400 if form.errors else 200, form=form, runs=runs, shown=shown)
