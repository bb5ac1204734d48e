"""`manage.py train --workspace SLUG --dataset NAME [--dataset-version N] [--kind finetune|train]
[--parameters JSON] [--base-version N] [--here]`: a training run on a dataset version.

Without --here the run is queued for the generation workers and its id printed; with
--here this process trains it and runs the evaluation suite on the version it writes (the
services the worker's tasks call), and prints the new model version's figures as JSON on
the last line.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.commands import workspace_named
from apps.core.errors import DomainError
from apps.datasets.management.commands.dataset import dataset_named, version_of
from apps.datasets.services import dataset_version_train
from apps.generation.models import ModelVersion, TrainingKind, TrainingRun
from apps.generation.registry import model_versions
from apps.generation.running import training_run_execute  # the engines load torch lazily
from apps.generation.suite import suite_run_latest
from apps.publishing.selectors import published_texts
from apps.workflow.model_suite import suite_run_execute


class Command(BaseCommand):
    help = "Train a model of the workspace on a dataset version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--dataset", required=True, help="the dataset's name")
        parser.add_argument("--dataset-version", type=int,
                            help="the dataset's version number (default: its latest)")
        parser.add_argument("--kind", choices=TrainingKind.values, default=TrainingKind.FINETUNE)
        parser.add_argument("--parameters", default="{}", help="training parameters as JSON")
        parser.add_argument("--base-version", type=int,
                            help="finetune: start from this model version number")
        parser.add_argument("--here", action="store_true",
                            help="train in this process instead of on a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_named(options["workspace"])
        version = version_of(dataset_named(workspace, options["dataset"]),
                             options["dataset_version"])
        try:
            parameters = json.loads(options["parameters"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--parameters is not JSON: {exc.msg}.") from None
        base_id = None
        if options["base_version"] is not None:
            base = model_versions(workspace_id=workspace.pk).filter(
                number=options["base_version"]).first()
            if base is None:
                raise CommandError(f"No model version {options['base_version']} in "
                                   f"{workspace.slug}.")
            base_id = base.pk
        try:
            run = dataset_version_train(version=version, kind=options["kind"],
                                        parameters=parameters, base_version_id=base_id)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        if not options["here"]:
            self.stdout.write(f"Training run {run.pk} queued.")
            return
        worker = f"{socket.gethostname()}:{os.getpid()}"
        training_run_execute(run_id=run.pk, worker_id=worker, published=published_texts)
        run = TrainingRun.objects.get(pk=run.pk)
        model = ModelVersion.objects.filter(training_run=run).first()
        if model is None:
            raise CommandError(f"Training run {run.pk} {run.state}: {run.error}")
        suite = suite_run_latest(version=model)
        if suite is not None and suite_run_execute(run_id=suite.pk, worker_id=worker) != "recorded":
            suite.refresh_from_db()
            self.stderr.write(f"The evaluation suite {suite.state}: {suite.error}")
        model.refresh_from_db()
        self.stderr.write(f"Model version {model.number} in {model.folder}.")
        self.stdout.write(json.dumps({"version": model.number, "folder": model.folder,
                                      "revision": model.revision, **model.metrics}))
