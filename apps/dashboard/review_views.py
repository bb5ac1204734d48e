"""The review screen's own endpoints: a typed edit's live count and previews, and the
toast's undo of a schedule just made. The page itself is the brief page (views.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.accounts.roles import CAN_REVIEW, CAN_SUBMIT_BRIEFS
from apps.briefs.selectors import brief_get
from apps.core.errors import DomainError
from apps.dashboard import selectors
from apps.dashboard.forms import PreviewForm, UndoForm
from apps.dashboard.views import (
    current_workspace,
    dashboard_view,
    draft_of_brief,
    render_brief_page,
    target_previews,
)
from apps.publishing.services import publications_cancel


@dashboard_view("POST")
def draft_preview(request: HttpRequest, brief_id: int, draft_id: int) -> HttpResponse:
    """The text typed in a draft's editor, counted in the brief's unit and shown as each
    enabled target would receive it (a fragment for review_screen.js); nothing is saved."""
    workspace = current_workspace(request, CAN_REVIEW)
    draft = draft_of_brief(workspace, brief_id, draft_id)
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/review/_preview_refused.html", {"form": form},
                      status=400)
    brief = draft.brief
    text = form.cleaned_data["text"]
    targets = selectors.targets_enabled(workspace_id=workspace.pk)
    return render(request, "dashboard/review/_live_preview.html", {
        "brief": brief, "text": text, "key": draft.pk,
        "previews": target_previews(targets, brief, text)})


@dashboard_view("POST")
def brief_undo(request: HttpRequest, brief_id: int) -> HttpResponse:
    """Cancel the publications just scheduled (the toast's Undo): all or none, through the
    same service as the API's cancel; the brief goes back to approved when none is left."""
    workspace = current_workspace(request, CAN_SUBMIT_BRIEFS)
    brief = brief_get(workspace=workspace, brief_id=brief_id)
    form = UndoForm(request.POST)
    if not form.is_valid():
        return render_brief_page(request, workspace, brief_id, status=400,
                                 error="Nothing to undo: no publication was named.")
    try:
        cancelled = publications_cancel(brief=brief, actor=request.user,
                                        publication_ids=form.cleaned_data["publication_ids"])
    except DomainError as exc:
        return render_brief_page(request, workspace, brief_id, status=exc.status_code,
                                 error=f"Cannot undo: {exc}")
    messages.success(request, f"Undone: {len(cancelled)} publication(s) cancelled.")
    return redirect("dashboard:brief", brief_id=brief_id)
