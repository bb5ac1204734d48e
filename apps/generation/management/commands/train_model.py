import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Train the built-in model (tokenizer and a small GPT-2, a few minutes on a CPU) into "
        "MODELS_DIR/builtin, with a model card. Prints the training report as JSON. It learns "
        "from the Jargon File (English) unless --corpus names other text, such as Chinese poems."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--steps", type=int, default=None,
                            help="training steps (default 2400, fewer if the time budget ends first)")
        parser.add_argument("--max-seconds", type=float, default=None,
                            help="time budget of the training loop (default 240 s, or none "
                            "when --steps is given)")
        parser.add_argument("--output", type=Path, default=None,
                            help="model folder (default MODELS_DIR/builtin)")
        parser.add_argument("--force", action="store_true", help="replace an existing model")
        parser.add_argument("--corpus", type=Path, default=None,
                            help="a UTF-8 text file (gzipped or not) or a folder of them to train "
                            "on instead of the Jargon File; entries of a fortune file (lines of "
                            "'%%' between them) or blank-line-separated paragraphs are its documents")
        parser.add_argument("--corpus-licence", default="",
                            help="the corpus's licence, written into the model card (required "
                            "with --corpus)")
        parser.add_argument("--corpus-source", default="",
                            help="where the corpus comes from, for the model card (default: its "
                            "file or folder name)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: torch loads only for this command, never for the web tier.
        from dataclasses import replace

        from workers.generation.builtin.corpus import text_corpus
        from workers.generation.builtin.plan import TrainingPlan
        from workers.generation.builtin.training import (
            DEFAULT_STEPS,
            train_builtin_model,
        )
        from workers.generation.engine import InvalidRequest

        output = (options["output"] or settings.MODELS_DIR / "builtin").resolve()
        if output.exists() and not options["force"]:
            raise CommandError(f"{output} already exists; use --force to train it again.")
        corpus, licence = options["corpus"], options["corpus_licence"].strip()
        split = None
        if corpus is not None:
            if not licence:
                raise CommandError("--corpus needs --corpus-licence: the model card must say "
                                   "under which terms its training text may be used.")
            if not corpus.exists():
                raise CommandError(f"No corpus file or folder at {corpus}.")
            try:
                split = text_corpus(corpus, source=options["corpus_source"].strip() or corpus.name,
                                    licence=licence)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        steps, budget = options["steps"], options["max_seconds"]
        plan = TrainingPlan() if steps is None else replace(TrainingPlan(), max_seconds=None)
        if budget is not None:
            plan = replace(plan, max_seconds=budget)
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            report = train_builtin_model(
                output, DEFAULT_STEPS if steps is None else steps, plan,
                replace_existing=options["force"], on_log=self.stderr.write, corpus=split,
            )
        except InvalidRequest as exc:  # too little text for the model's window
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Trained {report.parameters:,} parameters for {report.steps} steps in "
            f"{report.train_seconds:.0f} s: final loss {report.final_loss:.3f}, held-out "
            f"perplexity {report.heldout_perplexity:.1f}. Model card: {output / 'README.md'}"
        )
        self.stdout.write(json.dumps(report.to_json()))
