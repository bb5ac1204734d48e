"""Where the platform sends and loads from: targets, outbound webhooks, feeds and model
profiles pass the egress policy, the key allowlist, the declared queues and the model
folders, at configuration time and again in the worker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from apps.core.crypto import secret_encrypt
from apps.core.errors import DomainError
from apps.core.models import OutboxEvent
from apps.generation.models import GenerationJob, JobState, ModelProfile
from apps.generation.services import model_profile_create, model_profile_update
from apps.integrations.models import DeliveryState, FeedSource
from apps.integrations.outbound import (
    delivery_attempt,
    delivery_claim,
    subscription_create,
    subscriptions_fanout,
)
from apps.integrations.sources import feed_create, feed_poll
from apps.publishing.connectors.base import PermanentPublishError, PublishItem
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import client_for
from tests.factories import WEBHOOK_SECRET
from tests.http_peers import HttpPeer, Reply
from tests.peers.openai_chat import ChatPeer
from workers.generation.locations import REFUSED
from workers.tasks.generation import run_job

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
METADATA_REFUSAL = ("Refused to connect to 169.254.169.254: 169.254.169.254 is a cloud metadata "
                    "address, which outbound requests may not reach (the operator can allow it "
                    "with AIGC_EGRESS_ALLOW_NETWORKS).")
LOOPBACK_REFUSAL = ("Refused to connect to 127.0.0.1: 127.0.0.1 is a loopback address, which "
                    "outbound requests may not reach (the operator can allow it with "
                    "AIGC_EGRESS_ALLOW_LOOPBACK).")

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings) -> None:
    """Production's policy: the tests' loopback peers are out of reach."""
    settings.EGRESS_ALLOW_LOOPBACK = False


def item() -> PublishItem:
    return PublishItem(
        idempotency_key="6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11", publication_id=41, brief_id=7,
        revision=2, title="Composting at home", body="A bucket will do.\n",
        keywords=("compost",), language="en", content_type="blog-post",
        published_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC))


# --- publishing targets ----------------------------------------------------------------------


@pytest.mark.usefixtures("strict")
def test_a_target_on_a_refused_address_fails_permanently_and_hears_nothing() -> None:
    with HttpPeer(200) as peer:
        with pytest.raises(PermanentPublishError) as refused:
            WebhookConnector(url=f"{peer.url}/hooks", secret=WEBHOOK_SECRET).publish(item())
        # the Mastodon token never leaves either: its connection check is refused before sending
        with pytest.raises(PermanentPublishError):
            MastodonConnector(url=peer.url, token="secret-token").validate()
        assert peer.requests == []
    assert refused.value.message == f"The target may not be reached from the workers: " \
                                    f"{LOOPBACK_REFUSAL}"


@pytest.mark.parametrize(("kind", "config", "secret", "address", "kind_words", "setting"), [
    ("webhook", {"url": METADATA}, "", "169.254.169.254", "a cloud metadata address",
     "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("mastodon", {"url": "http://10.0.0.2"}, "", "10.0.0.2", "a private address",
     "AIGC_EGRESS_ALLOW_PRIVATE"),
    ("wordpress", {"url": "http://[fe80::1]/"}, "", "fe80::1", "a link-local address",
     "AIGC_EGRESS_ALLOW_NETWORKS"),
    ("chat", {"flavor": "slack"}, "http://0.0.0.0:6379/", "0.0.0.0", "a reserved address",
     "AIGC_EGRESS_ALLOW_NETWORKS"),
])
def test_a_target_on_a_refused_address_is_refused_when_configured(
        ws, kind, config, secret, address, kind_words, setting) -> None:
    with pytest.raises(DomainError) as refused:
        target_create(workspace=ws, name="Evil", kind=kind, config=config, secret=secret)
    assert str(refused.value) == (
        f"The workers may not send to this URL: Refused to connect to {address}: {address} is "
        f"{kind_words}, which outbound requests may not reach (the operator can allow it with "
        f"{setting}).")


# --- outbound webhooks -----------------------------------------------------------------------


def test_a_subscription_to_a_metadata_address_is_refused_when_created(ws) -> None:
    with pytest.raises(DomainError) as refused:
        subscription_create(workspace=ws, name="x", url=METADATA, event_types=["brief.*"])
    assert str(refused.value) == f"The workers may not send to this URL: {METADATA_REFUSAL}"


def test_a_delivery_the_policy_refuses_fails_at_once_and_disables_the_subscription(
        ws, settings) -> None:
    with HttpPeer(200) as peer:
        # given a subscription stored while loopback was allowed
        subscription, _ = subscription_create(workspace=ws, name="Bot", url=f"{peer.url}/in",
                                              event_types=["brief.*"])
        factories.brief(ws)
        [delivery_id] = subscriptions_fanout(OutboxEvent.objects.get(type="brief.created"))
        # when the operator no longer allows loopback and the delivery is tried
        settings.EGRESS_ALLOW_LOOPBACK = False
        outcome = delivery_attempt(delivery=delivery_claim(delivery_id=delivery_id))
        assert peer.requests == []
    # then it failed for good (no retry), and so did the subscription, with the reason
    reason = f"The workers may not send to this URL: {LOOPBACK_REFUSAL}"
    assert (outcome.state, outcome.retry_in_s) == (DeliveryState.FAILED, None)
    subscription.refresh_from_db()
    assert (subscription.enabled, subscription.disabled_reason) == (False, reason)
    assert subscription.deliveries.get().last_error == reason


def test_the_admin_refuses_a_subscription_url_the_workers_may_not_reach(ws, root) -> None:
    response = root.post("/admin/integrations/subscription/add/", {
        "workspace": ws.pk, "name": "Bot", "url": METADATA, "event_types": '["brief.*"]'})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [
        f"The workers may not send to this URL: {METADATA_REFUSAL}"]


# --- feeds -----------------------------------------------------------------------------------


def test_a_feed_on_a_private_address_is_refused_when_created(ws) -> None:
    with pytest.raises(DomainError) as refused:
        feed_create(workspace=ws, name="News", url="http://10.1.2.3/feed.xml",
                    content_type=factories.content_type(ws))
    assert str(refused.value) == (
        "The workers may not fetch this URL: Refused to connect to 10.1.2.3: 10.1.2.3 is a "
        "private address, which outbound requests may not reach (the operator can allow it "
        "with AIGC_EGRESS_ALLOW_PRIVATE).")


def test_a_feed_redirecting_to_the_metadata_service_is_not_followed(ws) -> None:
    with HttpPeer(Reply(302, headers={"Location": METADATA})) as server:
        feed = FeedSource.objects.create(workspace=ws, name="News", url=f"{server.url}/feed.xml",
                                         content_type=factories.content_type(ws))
        assert feed_poll(feed=feed) == []
        assert [r.path for r in server.requests] == ["/feed.xml"]
    feed.refresh_from_db()
    assert feed.last_error == METADATA_REFUSAL


# --- model profiles: keys, queues, servers ---------------------------------------------------


def test_a_key_variable_off_the_operators_list_is_refused(ws, settings) -> None:
    settings.MODEL_KEY_ENVS = ["HOUSE_LLM_KEY"]
    with pytest.raises(DomainError) as refused:
        model_profile_create(workspace_id=ws.pk, name="vLLM", backend="openai", model="m",
                             base_url="https://llm.example/v1", api_key_env="DJANGO_SECRET_KEY")
    assert str(refused.value) == (
        "The worker's environment variable 'DJANGO_SECRET_KEY' is not one the operator allows "
        "for model API keys (AIGC_MODEL_KEY_ENVS: HOUSE_LLM_KEY); store the key in the profile "
        "instead.")
    profile = model_profile_create(workspace_id=ws.pk, name="vLLM", backend="openai", model="m",
                                   base_url="https://llm.example/v1", api_key_env="HOUSE_LLM_KEY")
    with pytest.raises(DomainError, match="'AIGC_ENCRYPTION_KEYS' is not one the operator"):
        model_profile_update(profile=profile, api_key_env="AIGC_ENCRYPTION_KEYS")
    assert ModelProfile.objects.get(pk=profile.pk).api_key_env == "HOUSE_LLM_KEY"


def test_the_api_answers_the_refusal_as_a_400_and_stores_nothing(ws, admin) -> None:
    response = client_for(admin).post("/api/v1/model-profiles/", {
        "name": "Leak", "backend": "openai", "model": "m", "base_url": "https://llm.example/v1",
        "api_key_env": "DATABASE_URL", "queue": "webhooks"}, format="json")
    assert (response.status_code, response.json()) == (400, {"detail": (
        "'webhooks' is not a generation queue of this deployment; use generation (the operator "
        "declares more with AIGC_GENERATION_QUEUES). The worker's environment variable "
        "'DATABASE_URL' is not one the operator allows for model API keys (AIGC_MODEL_KEY_ENVS: "
        "none); store the key in the profile instead.")})
    assert ModelProfile.objects.count() == 0


def test_a_profile_runs_only_on_a_generation_queue_the_deployment_declares(
        ws, settings) -> None:
    settings.GENERATION_QUEUES = ["gpu-a100"]
    for queue in ("webhooks", "publishing", "default", "evaluation", "gpu-h100"):
        with pytest.raises(DomainError) as refused:
            model_profile_create(workspace_id=ws.pk, name="Big", queue=queue)
        assert str(refused.value) == (
            f"{queue!r} is not a generation queue of this deployment; use generation, gpu-a100 "
            "(the operator declares more with AIGC_GENERATION_QUEUES).")
    assert model_profile_create(workspace_id=ws.pk, name="Big", queue="gpu-a100").queue \
        == "gpu-a100"


def test_a_job_is_not_created_for_a_profile_on_an_undeclared_queue(ws) -> None:
    # given a profile stored before the rule, on a queue no worker consumes
    ct = factories.content_type(ws, model_profile=factories.model_profile(ws, queue="webhooks"))
    with pytest.raises(DomainError) as refused:
        factories.brief(ws, ct, submit=True)
    assert str(refused.value) == ("Model profile 'Built-in' runs on queue 'webhooks', which this "
                                  "deployment does not declare; an admin must choose one of "
                                  "generation.")
    assert GenerationJob.objects.count() == 0


def test_a_model_server_on_a_metadata_address_is_refused(ws) -> None:
    with pytest.raises(DomainError) as refused:
        model_profile_create(workspace_id=ws.pk, name="vLLM", backend="openai", model="m",
                             base_url="http://169.254.169.254/v1")
    assert str(refused.value) == METADATA_REFUSAL


def test_the_admin_shows_the_same_refusals_as_form_errors(ws, settings, root) -> None:
    profile = factories.model_profile(ws, backend="openai", model="m",
                                      base_url="https://llm.example/v1")
    form = factories.model_profile_form(ws, queue="webhooks", api_key_env="DATABASE_URL")
    response = root.post(f"/admin/generation/modelprofile/{profile.pk}/change/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["queue"] == ["'webhooks' is not a generation queue of this deployment; use "
                               "generation (the operator declares more with "
                               "AIGC_GENERATION_QUEUES)."]
    assert errors["api_key_env"][0].startswith(
        "The worker's environment variable 'DATABASE_URL' is not one the operator allows")
    profile.refresh_from_db()
    assert (profile.queue, profile.api_key_env) == ("generation", "")


# --- model profiles: folders -----------------------------------------------------------------


@pytest.fixture
def models(settings, tmp_path: Path) -> Path:
    """MODELS_DIR with the built-in model, a shared models folder and a folder outside both."""
    root = tmp_path / "models"
    (root / "builtin").mkdir(parents=True)
    (root / "builtin" / "config.json").write_text("{}")
    (tmp_path / "shared" / "llama").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    settings.MODELS_DIR = root
    settings.SHARED_MODELS_DIR = tmp_path / "shared"
    return root


def trained(models: Path, workspace_id: int, name: str) -> Path:
    folder = models / "workspaces" / str(workspace_id) / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_a_model_folder_outside_the_workspace_is_refused_alike_whether_it_exists_or_not(
        models: Path) -> None:
    # given another workspace's trained model, and a link in this one's folder to outside
    ws, other = factories.workspace(), factories.workspace()
    theirs = trained(models, other.pk, "run-2")
    own = trained(models, ws.pk, "run-1").parent
    (own / "escape").symlink_to(models.parent / "outside")
    up = f"../{other.pk}"
    refused = [f"{up}/run-2", f"{up}/run-404", str(theirs), str(theirs.parent / "nothing"),
               "/etc", "/nonexistent/model", "../../../../../../etc", str(own),
               str(own / "escape"), f"../{ws.pk}/escape/model",
               f"../../builtin/../workspaces/{other.pk}/run-2"]
    # when a profile names any of them, then each is refused with the very same words
    messages = set()
    for model in refused:
        with pytest.raises(DomainError) as refusal:
            model_profile_create(workspace_id=ws.pk, name="Stolen", backend="transformers",
                                 model=model)
        messages.add(str(refusal.value))
    assert messages == {REFUSED}
    # and its own folders, the shared folder and the built-in model are fine
    for backend, model in (("transformers", "run-1"), ("transformers", "run-7"),
                           ("transformers", "llama"), ("transformers", str(own / "run-1")),
                           ("builtin", ""), ("builtin", "builtin"),
                           ("builtin", str(models / "builtin"))):
        model_profile_create(workspace_id=ws.pk, name=model or "Built-in", backend=backend,
                             model=model)


@pytest.mark.django_db(transaction=True)
def test_the_worker_refuses_a_model_folder_stored_before_the_rule(models: Path) -> None:
    ws, other = factories.workspace(), factories.workspace()
    ct = factories.content_type(ws, model_profile=factories.model_profile(
        ws, backend="transformers", model=str(trained(models, other.pk, "run-2"))))
    job = factories.brief(ws, ct, submit=True).jobs.get()
    assert run_job.apply(args=(job.pk,)).get() == "failed"
    job.refresh_from_db()
    assert (job.state, job.error) == (JobState.FAILED, REFUSED)


# --- the worker sends no secret where the rules say no ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_no_variable_off_the_list_stored_before_the_rule(
        monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-secret-key-of-the-deployment")
    with ChatPeer() as peer:
        ws = factories.workspace()
        ct = factories.content_type(ws, model_profile=factories.model_profile(
            ws, backend="openai", model="m", base_url=peer.url, api_key_env="DJANGO_SECRET_KEY"))
        job = factories.brief(ws, ct, submit=True).jobs.get()
        assert run_job.apply(args=(job.pk,)).get() == "failed"
        assert (peer.requests, peer.headers) == ([], [])
    job.refresh_from_db()
    assert job.error == (
        "Model profile 'Built-in': The worker's environment variable 'DJANGO_SECRET_KEY' is not "
        "one the operator allows for model API keys (AIGC_MODEL_KEY_ENVS: none); store the key "
        "in the profile instead.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("strict")
def test_the_worker_sends_no_key_to_a_server_the_policy_refuses() -> None:
    with ChatPeer() as peer:
        ws = factories.workspace()
        ct = factories.content_type(ws, model_profile=factories.model_profile(
            ws, backend="openai", model="m", base_url=peer.url,
            api_key_encrypted=secret_encrypt(peer.api_key)))
        job = factories.brief(ws, ct, submit=True).jobs.get()
        assert run_job.apply(args=(job.pk,)).get() == "failed"
        assert (peer.requests, peer.headers) == ([], [])
    job.refresh_from_db()
    assert job.error == (f"The model server {peer.url} may not be reached from this worker: "
                         f"{LOOPBACK_REFUSAL}")
