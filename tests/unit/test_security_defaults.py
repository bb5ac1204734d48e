"""Production-safe defaults of the web tier: a Content-Security-Policy without inline script on
every page, pages that need none, previews through the sanitiser, cookies, the product's own
error pages."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client, override_settings
from django.urls import path
from drf_spectacular.settings import spectacular_settings

from aigc_platform.api_urls import bundle_origin
from apps.accounts.models import Role
from apps.dashboard.templatetags.dashboard import sanitized
from apps.publishing.targets import target_create
from apps.reviews.services import guest_link_create
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db
CSP = {"default-src": ["'self'"], "script-src": ["'self'"], "style-src": ["'self'"],
       "img-src": ["'self'", "data:", "https:"], "connect-src": ["'self'"],
       "object-src": ["'none'"], "base-uri": ["'self'"], "form-action": ["'self'"],
       "frame-ancestors": ["'none'"]}
HOSTILE = ('Variant 0 <script>alert(1)</script> <img src="x" onerror="alert(2)"> '
           '[a link](javascript:alert(3)) <a href="https://example.com" onclick="alert(4)">ok</a>')


class InlineCode(HTMLParser):
    """What a strict CSP refuses in a page: inline script (JSON data blocks are not run),
    event handler attributes, style attributes and elements, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        self.found += [f"<{tag} style=…>" for name, _ in attrs if name == "style"]
        self.found += [f"<{tag} {name}={value}>" for name, value in attrs
                       if name in {"href", "src", "action"} and (value or "").strip().lower()
                       .startswith("javascript:")]
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self._script = ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            if self._script.strip():
                self.found.append(f"<script>{self._script.strip()[:60]}</script>")
            self._script = None


def csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The response's Content-Security-Policy, directive by directive."""
    directives = [d.split() for d in response.headers["Content-Security-Policy"].split(";")]
    return {name: sources for name, *sources in directives}


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.fixture
def pages(ws) -> list[tuple[Client, str]]:  # type: ignore[no-untyped-def]
    """Every dashboard page, with a client allowed to see it, with content on it: a brief in review with a
    hostile draft edit previewed on an HTML (WordPress) and a file target, a guest link, a
    notification, the queue, insights and training."""
    reviewer = factories.member(ws, Role.REVIEWER, username="rita")
    target_create(workspace=ws, name="Blog", kind="wordpress",
                  config={"url": "https://blog.example.com"}, secret="editor:app pass word")
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    brief = factories.brief_in_review(ws, scores=(0.9,))
    draft = brief.drafts.get()
    client = logged_in(reviewer)
    edited = client.post(f"/briefs/{brief.pk}/drafts/{draft.pk}/edit/",
                         {"text": HOSTILE, "base_revision": 1})
    assert edited.status_code == 302
    _, token = guest_link_create(brief=brief, created_by=reviewer, guest_name="Clara",
                                 guest_email="", valid_for=timedelta(days=1))
    editor = logged_in(factories.member(ws, Role.EDITOR))
    return [(client, url) for url in [
        "/", "/?view=table", f"/briefs/{brief.pk}/", f"/briefs/{brief.pk}/card/", "/notifications/",
        "/insights/", "/training/", f"/guest/{token}/", "/accounts/password_change/",
        "/no/such/page/"]] + [(editor, "/briefs/new/")]


def test_every_dashboard_page_sends_the_csp_and_holds_no_inline_code(pages):
    for client, url in pages:
        response = client.get(url)
        assert response.status_code in {200, 404}, url
        assert csp(response) == CSP, url
        assert inline_code(response.text) == [], url


def test_the_login_lockout_and_admin_pages_send_the_csp_and_hold_no_inline_code(admin):
    anonymous = Client()
    login = anonymous.get("/accounts/login/")
    assert csp(login) == CSP
    assert inline_code(login.text) == []
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    for url in ["/admin/", "/admin/login/", "/admin/briefs/contentbrief/"]:
        response = logged_in(admin).get(url)
        assert csp(response) == CSP, url
        assert [c for c in inline_code(response.text) if not c.startswith("<style")] == [], url


def test_the_brief_page_shows_the_hostile_draft_only_through_the_sanitiser(pages):
    client, url = pages[2]
    page = client.get(url).text
    assert "Preview on Blog" in page
    assert "alert(1)" not in page.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")
    assert 'onerror="alert(2)"' not in page and 'onclick="alert(4)"' not in page
    assert '<a href="https://example.com" rel="noopener noreferrer">ok</a>' in page


def test_the_preview_filter_keeps_only_what_a_post_may_hold():
    html = ('<p onclick="x()" style="color: red">Hi <script>alert(1)</script>'
            '<a href="javascript:alert(2)">a</a> <img src="https://example.com/i.png" onerror="y()">'
            '<iframe src="https://example.com"></iframe></p>')

    assert sanitized(html) == ('<p>Hi <a rel="noopener noreferrer">a</a> '
                               '<img src="https://example.com/i.png"></p>')


def test_session_and_csrf_cookies_are_httponly_and_samesite_lax(ws):
    factories.member(ws, Role.EDITOR, username="ed", password="ed-pw-2026!")
    client = Client(enforce_csrf_checks=True)
    form = client.get("/accounts/login/")
    csrf = form.cookies["csrftoken"]
    assert (csrf["httponly"], csrf["samesite"]) == (True, "Lax")
    token = form.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]

    response = client.post("/accounts/login/", {"username": "ed", "password": "ed-pw-2026!",
                                                "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert (session["httponly"], session["samesite"]) == (True, "Lax")
    # The tests run plain http (DJANGO_SECURE_SSL_REDIRECT=false): Secure follows it off here;
    # the production environment's Secure cookies are checked by check --deploy (test_deploy_check).
    assert (session["secure"], csrf["secure"]) == ("", "")


def test_an_unknown_page_is_the_products_own_404(ws):
    response = logged_in(factories.member(ws, Role.EDITOR)).get("/no/such/page/")

    assert response.status_code == 404
    assert "<h1 id=\"error-title\">Not found</h1>" in response.text
    assert "URLconf" not in response.text and "Using the URLconf" not in response.text


def test_an_unknown_api_path_stays_json(ws):
    response = logged_in(factories.member(ws, Role.EDITOR)).get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not Found."}


def _boom(request):  # type: ignore[no-untyped-def]
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom)]


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_is_the_products_own_500():
    client = Client(raise_request_exception=False)

    response = client.get("/boom/")

    assert response.status_code == 500
    assert "<h1 id=\"error-title\">Something went wrong</h1>" in response.text
    assert "Traceback" not in response.text and "boom" not in response.text
    assert csp(response) == CSP


def test_the_api_docs_pages_run_no_inline_script_under_their_wider_policy(editor):
    client = logged_in(editor)
    bundles = {bundle_origin(spectacular_settings.SWAGGER_UI_DIST),
               bundle_origin(spectacular_settings.REDOC_DIST)}
    for url in ["/api/v1/schema/swagger/", "/api/v1/schema/redoc/"]:
        page = client.get(url)
        policy = csp(page)
        assert page.status_code == 200, url
        assert set(policy["script-src"]) == {"'self'"} | bundles, url
        assert "'unsafe-inline'" not in policy["script-src"], url
        assert [c for c in inline_code(page.text) if c != "<style>"] == [], url
    script = client.get("/api/v1/schema/swagger/", {"script": ""})
    assert script.status_code == 200
    assert script.headers["Content-Type"] == "application/javascript"
    assert "/api/v1/schema/" in script.text


def test_a_form_sent_without_its_csrf_token_gets_the_products_own_403():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})

    assert response.status_code == 403
    assert "<h1 id=\"error-title\">This form has expired</h1>" in response.text
    assert inline_code(response.text) == []
