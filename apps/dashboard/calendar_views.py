"""The content calendar: scheduled and published publications by month, week and day of the
user's own calendar, per target. Editors move a scheduled one by dragging it to another day
or hour (calendar.js fills and sends its move form) or with that form itself, and cancel it,
through the services the API's reschedule/ and cancel/ call."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import CAN_SUBMIT_BRIEFS, CAN_VIEW
from apps.core.errors import DomainError, NotFound
from apps.core.models import Workspace
from apps.dashboard.calendar_forms import CalendarForm, RescheduleForm
from apps.dashboard.calendar_selectors import VIEWS, calendar_period, calendar_targets
from apps.dashboard.templatetags.dashboard import time_text
from apps.dashboard.views import current_workspace, dashboard_view, render_page
from apps.publishing.models import Publication
from apps.publishing.selectors import publication_list
from apps.publishing.services import publication_cancel, publication_reschedule


def _calendar_page(request: HttpRequest, workspace: Workspace, *, status: int = 200,
                   refused: tuple[Publication, RescheduleForm] | None = None) -> HttpResponse:
    """The calendar for the period in the query string; `refused`: a publication's move form
    sent back with its error, shown open on its item (in the period of its time unless the
    query names one) and above the calendar."""
    targets = calendar_targets(workspace_id=workspace.pk)
    form = CalendarForm(request.GET, targets=targets)
    today = timezone.localdate()
    at = refused[0].scheduled_at if refused else None
    view, anchor, target_id = form.period(timezone.localdate(at) if at else today)
    period = calendar_period(workspace_id=workspace.pk, view=view, anchor=anchor,
                             zone=timezone.get_current_timezone(), today=today,
                             target_id=target_id)
    keep = {"view": view, "target": target_id or ""}  # what the period links keep
    return render_page(request, "dashboard/calendar.html", workspace, status=status, form=form,
                       period=period, views=VIEWS, query=urlencode({**keep, "date": anchor}),
                       keep=urlencode(keep), calendar_url=reverse("dashboard:calendar"),
                       refused_id=refused[0].pk if refused else None,
                       refused_form=refused[1] if refused else None)


@dashboard_view("GET")
def calendar(request: HttpRequest) -> HttpResponse:
    return _calendar_page(request, current_workspace(request, CAN_VIEW))


def _publication(workspace: Workspace, publication_id: int) -> Publication:
    publication = publication_list(workspace=workspace).select_related("brief").filter(
        pk=publication_id).first()
    if publication is None:
        raise NotFound(f"Publication {publication_id} not found.")
    return publication


def _back(request: HttpRequest) -> HttpResponse:
    """The calendar as it was (the period is in the form's query string)."""
    query = request.GET.urlencode()
    return redirect(reverse("dashboard:calendar") + (f"?{query}" if query else ""))


def _label(publication: Publication) -> str:
    return f"“{publication.brief.title}” on {publication.target.name}"


@dashboard_view("POST")
def calendar_reschedule(request: HttpRequest, publication_id: int) -> HttpResponse:
    """A scheduled publication moved to the time typed (or dropped on); a past time or a
    publication no longer scheduled comes back as the form's error."""
    workspace = current_workspace(request, CAN_SUBMIT_BRIEFS)
    publication = _publication(workspace, publication_id)
    form = RescheduleForm(request.POST, auto_id=f"id_p{publication.pk}_%s")
    status = 400
    if form.is_valid():
        try:
            publication_reschedule(publication=publication, actor=request.user,
                                   publish_at=form.cleaned_data["publish_at"])
        except DomainError as exc:
            form.add_error("publish_at", str(exc))
            status = exc.status_code
        else:
            messages.success(request, f"{_label(publication)} moved to "
                                      f"{time_text(form.cleaned_data['publish_at'])}.")
            return _back(request)
    return _calendar_page(request, workspace, status=status, refused=(publication, form))


@dashboard_view("POST")
def calendar_cancel(request: HttpRequest, publication_id: int) -> HttpResponse:
    """A pending, scheduled or failed publication cancelled: it never goes out."""
    workspace = current_workspace(request, CAN_SUBMIT_BRIEFS)
    publication = _publication(workspace, publication_id)
    try:
        publication_cancel(publication=publication, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{_label(publication)} cancelled: it will not be published.")
    return _back(request)

