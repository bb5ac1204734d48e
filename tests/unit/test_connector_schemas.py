"""Each target kind's connector declares what a target of its kind holds (TargetSchema),
refuses the rest when the target is saved, and reads its secret through one helper."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.publishing.connectors import (
    CONNECTORS,
    PermanentPublishError,
    TargetSchema,
    connector_for,
    target_schema,
)
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.wordpress import WordPressConnector
from apps.publishing.models import PublishingTarget, TargetKind
from apps.publishing.targets import target_create

SITE = "https://blog.example"
MAX_CHARACTERS = "A Mastodon target's 'max_characters' is a whole number from 50 to 100000."


def test_every_target_kind_has_a_connector_with_a_schema() -> None:
    assert set(CONNECTORS) == set(TargetKind.values)
    for kind, connector in CONNECTORS.items():
        assert isinstance(connector.schema, TargetSchema)
        assert target_schema(kind) is connector.schema
        names = [setting.name for setting in connector.schema.settings]
        assert len(names) == len(set(names)), kind
    # the keys each kind cannot do without, and the kinds that hold a post until its time
    assert {kind: [s.name for s in CONNECTORS[kind].schema.settings if s.required]
            for kind in TargetKind.values} == {
        "webhook": ["url"], "file": ["folder"], "wordpress": ["url"], "ghost": ["url"],
        "mastodon": ["url"], "chat": []}
    assert [kind for kind in TargetKind.values if CONNECTORS[kind].schema.schedules] == [
        "wordpress", "ghost"]


def test_a_kind_without_a_connector_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        target_schema("carrier-pigeon")
    assert str(refused.value) == "Unknown target kind 'carrier-pigeon'."


@pytest.mark.parametrize(("kind", "config", "secret", "message"), [
    (TargetKind.MASTODON, {"url": SITE, "max_characters": 49}, "", MAX_CHARACTERS),
    (TargetKind.MASTODON, {"url": SITE, "max_characters": 100_001}, "", MAX_CHARACTERS),
    (TargetKind.MASTODON, {"url": SITE, "max_characters": True}, "", MAX_CHARACTERS),
    (TargetKind.MASTODON, {"url": SITE, "max_characters": "500"}, "", MAX_CHARACTERS),
    (TargetKind.GHOST, {}, "", "A ghost target needs the site's http(s) 'url' in its config."),
    (TargetKind.WORDPRESS, {"url": "blog.example"}, "",
     "A wordpress target needs the site's http(s) 'url' in its config."),
    (TargetKind.WORDPRESS, {"url": SITE}, "admin",
     "A WordPress secret is 'username:application password'."),
    (TargetKind.GHOST, {"url": SITE}, "abc", "A Ghost secret is the Admin API key 'id:secret'."),
    (TargetKind.CHAT, {"flavor": "teams"}, "",
     "A chat target's config 'flavor' is 'slack' or 'discord'."),
    (TargetKind.CHAT, {}, "hooks.slack.com/services/T/B/x",
     "A chat target's secret is its incoming-webhook URL."),
    (TargetKind.FILE, {"folder": "."}, "",
     "A file target needs a relative 'folder' (no '..') in its config."),
    (TargetKind.FILE, ["site"], "", "A target's config is a JSON object."),
    (TargetKind.FILE, {"folder": "site", "schedule_on_target": True}, "",
     "Only WordPress and Ghost targets hold a post until its time ('schedule_on_target')."),
])
def test_a_schema_refuses_what_its_connector_cannot_use(kind: str, config: Any, secret: str,
                                                         message: str) -> None:
    with pytest.raises(DomainError) as refused:
        target_schema(kind).check(config, secret)
    assert str(refused.value) == message


@pytest.mark.django_db
def test_a_target_the_schema_accepts_gives_its_connector_the_config_and_secret(
        ws: Workspace) -> None:
    # given targets whose settings fill their schemas
    social = target_create(workspace=ws, name="Fediverse", kind=TargetKind.MASTODON,
                           config={"url": SITE, "visibility": "unlisted", "max_characters": 50},
                           secret="token-1")
    blog = target_create(workspace=ws, name="Blog", kind=TargetKind.WORDPRESS,
                         config={"url": SITE, "status": "draft", "categories": ["Soil"]},
                         secret="editor:abcd efgh")
    # when their connectors are built
    mastodon, wordpress = connector_for(social), connector_for(blog)
    # then each reads its config and its decrypted secret
    assert isinstance(mastodon, MastodonConnector)
    assert (mastodon.url, mastodon.visibility, mastodon.max_characters, mastodon.token) == (
        SITE, "unlisted", 50, "token-1")
    assert isinstance(wordpress, WordPressConnector)
    assert (wordpress.status, wordpress.categories, wordpress.username, wordpress.password) == (
        "draft", ("Soil",), "editor", "abcd efgh")


@pytest.mark.parametrize("kind", [TargetKind.WEBHOOK, TargetKind.WORDPRESS, TargetKind.GHOST,
                                  TargetKind.MASTODON, TargetKind.CHAT])
def test_a_secret_the_keys_cannot_decrypt_fails_the_publication(kind: str) -> None:
    # given a target of a kind with a secret, stored under a key no longer configured
    assert CONNECTORS[kind].schema.secret
    target = PublishingTarget(kind=kind, config={"url": SITE},
                              secret_encrypted="written-with-a-removed-key")
    # then its connector cannot be built, and the publication fails with the reason
    with pytest.raises(PermanentPublishError) as refused:
        connector_for(target)
    assert refused.value.message == "A stored secret cannot be decrypted with the configured keys."


@pytest.mark.django_db
def test_the_admin_help_lists_each_kind_from_its_schema(root: Client) -> None:
    page = root.get("/admin/publishing/publishingtarget/add/").content.decode()
    # escaped once (the admin renders help as HTML): '<email>' is text, not a tag
    assert "&quot;git_author&quot;: &#x27;Name &lt;email&gt;&#x27;" in page
    assert "&quot;max_characters&quot;: 50-100000 (previews)" in page
    assert "wordpress &#x27;username:application password&#x27;" in page


@pytest.mark.django_db
def test_the_admin_refuses_a_config_that_is_not_an_object(ws: Workspace, root: Client) -> None:
    response = root.post("/admin/publishing/publishingtarget/add/", {
        "workspace": ws.pk, "name": "Folder", "kind": "file", "config": '["site"]'})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["config"] == [
        "A target's config is a JSON object."]
