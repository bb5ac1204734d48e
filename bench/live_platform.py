"""What the benches that drive the whole platform share: a PostgreSQL cluster of their own,
the built-in model, a workspace whose briefs go to the review queue, briefs POSTed through
the REST API, and the hops each brief took, read from its rows' timestamps."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from django.conf import settings

from aigc_platform.embedded import running_valkey
from tests.private_postgres import PrivatePostgres, private_postgres

if TYPE_CHECKING:
    from aigc_platform.processes import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent

TOPICS = ["composting kitchen scraps", "rain gardens", "keeping bees on a roof",
          "growing tomatoes on a balcony", "saving seeds", "mulching with leaves"]
TRAIN_STEPS = 30  # enough for a loadable model of the shipped shape in ~10 s
# A brief's way, moment by moment: POST sent, job created, claimed, drafts recorded, scored,
# assigned to a reviewer. Each hop is the time between two of them.
HOPS = ("API: POST sent → job created", "relay, broker, free thread: → claimed",
        "generation (streaming, drafts written)", "to evaluation, scoring, recorded",
        "to the review queue: → assigned")
# States a brief leaves only by a person's action; failed ones never reach the review queue.
DONE_WITHOUT_REVIEW = ("failed", "cancelled", "rejected")
TASK_LOG = re.compile(r"Task ([\w.]+)\[[^\]]+\] (succeeded|retry|raised)[^\n]*?(?: in ([\d.]+)s)?")
# Events the after-commit relay left undone, relayed by the reconciler (15 s old at least).
LATE_RELAYS = re.compile(r"Task platform\.reconcile\[[^\]]+\] succeeded[^{]*\{'events_relayed': (\d+)")


@dataclass(frozen=True)
class Platform:
    cluster: PrivatePostgres
    var: Path
    env: dict[str, str]  # for the platform's processes
    models_dir: Path
    model: str  # which model, in words


@dataclass(frozen=True)
class BenchWorkspace:
    workspace_id: int
    api_key: str
    content_type: str  # its slug


@contextlib.contextmanager
def platform_environment(*, name: str, own_broker: bool) -> Iterator[Platform]:
    """A private PostgreSQL cluster, Django set up on it (production settings, keys of the
    tests' own), and the built-in model. `own_broker`: an embedded Valkey whatever REDIS_URL
    says; else REDIS_URL's server when set."""
    var = Path(tempfile.mkdtemp(prefix=f"aigc-bench-{name}-"))
    with private_postgres(max_connections=80) as cluster, contextlib.ExitStack() as stack:
        if own_broker:
            for key in ("REDIS_URL", "CELERY_BROKER_URL", "AIGC_CACHE_URL",
                        "AIGC_CHANNEL_LAYER_URL"):
                os.environ.pop(key, None)
        env = {"DATABASE_URL": cluster.url, "AIGC_VAR_DIR": str(var),
               "AIGC_PUBLISH_DIR": str(var / "published"), "LOG_LEVEL": "WARNING",
               "API_THROTTLE_USER_RATE": "1000000/min", "API_THROTTLE_KEY_RATE": "1000000/min"}
        os.environ.update({**env, "DJANGO_SETTINGS_MODULE": "tests.settings"})
        import django

        django.setup()
        if settings.EMBEDDED_VALKEY:
            # Up before the bench writes its workspace, whose rows' live events go to it;
            # the platform finds it answering and uses it.
            stack.enter_context(running_valkey(var))
        models_dir, model = _model_folder(var)
        env["AIGC_MODELS_DIR"] = os.environ["AIGC_MODELS_DIR"] = str(models_dir)
        yield Platform(cluster, var, env, models_dir, model)


def _model_folder(var: Path) -> tuple[Path, str]:
    """The built-in model under AIGC_MODELS_DIR when trained, else the shipped shape (4
    layers, width 128) trained for a few steps: its weights do not matter to a bench whose
    jobs write a fixed number of tokens."""
    from workers.generation.builtin.plan import TrainingPlan
    from workers.generation.builtin.training import train_builtin_model
    from workers.generation.engine import BUILTIN

    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", ROOT / "models"))
    if (models_dir / BUILTIN / "config.json").is_file():
        return models_dir, "builtin"
    plan = TrainingPlan(max_documents=400, eval_blocks=8, warmup_steps=5, max_seconds=None)
    train_builtin_model(var / "models" / BUILTIN, TRAIN_STEPS, plan)
    return var / "models", f"shipped shape, {TRAIN_STEPS} steps"


def bench_workspace(*, tokens: int) -> BenchWorkspace:
    """A workspace (migrated database) with an editor's API key, a reviewer, and a content
    type on the built-in model writing exactly `tokens` tokens a draft, whose briefs are
    assigned to the reviewer in turn once scored (the review queue)."""
    from django.core.management import call_command

    from apps.accounts.models import Role
    from apps.apikeys.services import apikey_create
    from apps.reviews.models import ApprovalPolicy
    from tests import factories

    call_command("migrate", verbosity=0)
    ws = factories.workspace(name="Bench")
    editor = factories.member(ws, Role.EDITOR, username="editor")
    factories.member(ws, Role.REVIEWER, username="reviewer")
    profile = factories.model_profile(ws, parameters={"max_new_tokens": tokens,
                                                      "min_new_tokens": tokens})
    content_type = factories.content_type(ws, slug="post", model_profile=profile)
    ApprovalPolicy.objects.create(content_type=content_type, round_robin=True)
    _, key = apikey_create(workspace=ws, user=editor, name="bench",
                           scopes=["briefs:write", "briefs:read"])
    return BenchWorkspace(ws.pk, key, "post")


@dataclass(frozen=True)
class Running:
    url: str  # the web process's
    processes: list[ManagedProcess]  # the platform's
    warm: dict[int, float]  # the warm-up brief's id → when its POST was sent


@contextlib.contextmanager
def platform_warmed(platform: Platform, workspace: BenchWorkspace, *, variants: int,
                    bound: float) -> Iterator[Running]:
    """The platform as `manage.py serve` runs it, with one brief through to the review queue
    first, so that both workers have loaded their models before anything is timed."""
    from aigc_platform.processes import free_port
    from aigc_platform.stack import platform_running

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with platform_running(web_port=port, env=platform.env, log_dir=platform.var / "logs",
                          timeout=180) as processes:
        warm = submit_briefs(url, workspace, range(1), variants, 1)
        if not wait_settled(list(warm), bound):
            raise TimeoutError(f"the warm-up brief took over {bound} s")
        yield Running(url, processes, warm)


def log_offsets(processes: list[ManagedProcess]) -> dict[str, tuple[Path, int]]:
    """Each process's log and its size now, for `task_runtimes` to read what comes after."""
    return {p.name: (p.log_path, p.log_path.stat().st_size) for p in processes}


def api_client(url: str, workspace: BenchWorkspace) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {workspace.api_key}"},
                        timeout=60)


def post_brief(client: httpx.Client, workspace: BenchWorkspace, n: int, variants: int
               ) -> tuple[int | None, int]:
    """POST brief number `n` (its external id is its number); (its id or None, status)."""
    response = client.post("/api/v1/briefs/", json={
        "title": f"Notes {n}: {TOPICS[n % len(TOPICS)]}", "content_type": workspace.content_type,
        "topic": f"{TOPICS[n % len(TOPICS)]} for a small garden, part {n}",
        "audience": "beginners", "keywords": ["garden", "soil"], "target_length": 40,
        "variants": variants, "external_id": f"bench-{n}"})
    return (response.json()["id"] if response.status_code == 201 else None,
            response.status_code)


def submit_briefs(url: str, workspace: BenchWorkspace, numbers: range, variants: int,
                  clients: int) -> dict[int, float]:
    """POST the briefs, `clients` at a time; brief id → when its POST was sent. Any refusal
    stops the bench: these briefs are all valid."""
    sent: dict[int, float] = {}
    with api_client(url, workspace) as client:
        def post(n: int) -> None:
            at = time.time()
            brief_id, status = post_brief(client, workspace, n, variants)
            if brief_id is None:
                raise RuntimeError(f"brief {n} refused with {status}")
            sent[brief_id] = at

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, numbers))
    return sent


def settled(brief_ids: list[int]) -> tuple[int, int]:
    """(briefs in the review queue, briefs done without review) among `brief_ids`."""
    from apps.briefs.models import ContentBrief
    from apps.reviews.models import ReviewAssignment

    assigned = ReviewAssignment.objects.filter(brief_id__in=brief_ids).count()
    done = ContentBrief.objects.filter(pk__in=brief_ids, state__in=DONE_WITHOUT_REVIEW).count()
    return assigned, done


def wait_settled(brief_ids: list[int], bound: float) -> bool:
    """Until every brief is in the review queue or done without review; False past `bound`
    seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if sum(settled(brief_ids)) == len(brief_ids):
            return True
        time.sleep(0.25)
    return False


def stage_times(sent: dict[int, float]) -> tuple[dict[str, list[float]], list[float], float]:
    """For the briefs that reached the review queue: the seconds of each hop, the seconds
    from POST to the queue, and when the last one got there."""
    from apps.generation.models import GenerationJob
    from apps.reviews.models import ReviewAssignment

    assigned = dict(ReviewAssignment.objects.filter(brief_id__in=list(sent))
                    .values_list("brief_id", "assigned_at"))
    stages: dict[str, list[float]] = {name: [] for name in HOPS}
    end_to_end = []
    for job in GenerationJob.objects.filter(brief_id__in=list(assigned)):
        moments = [sent[job.brief_id], *(at.timestamp() for at in (
            job.created_at, job.started_at, job.generated_at, job.finished_at,
            assigned[job.brief_id]))]
        for name, earlier, later in zip(HOPS, moments, moments[1:], strict=False):
            stages[name].append(later - earlier)
        end_to_end.append(moments[-1] - moments[0])
    return stages, end_to_end, max((at.timestamp() for at in assigned.values()), default=0.0)


def task_runtimes(logs: dict[str, tuple[Path, int]]) -> tuple[dict[str, dict[str, float]], int]:
    """From each worker log past its offset: per task, runs, retries and seconds run; and
    the events the reconciler relayed."""
    tasks: dict[str, dict[str, float]] = {}
    late = 0
    for path, offset in logs.values():
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        for name, outcome, seconds in TASK_LOG.findall(text):
            entry = tasks.setdefault(name, {"runs": 0, "retries": 0, "seconds": 0.0})
            entry["retries" if outcome == "retry" else "runs"] += 1
            entry["seconds"] += float(seconds or 0)
        late += sum(int(n) for n in LATE_RELAYS.findall(text))
    return tasks, late
