import json
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigc_platform import demo
from aigc_platform.processes import free_port
from aigc_platform.stack import platform_running
from apps.core.management.commands.serve import serve_until_stopped


class Command(BaseCommand):
    help = (
        "Run the platform on the current settings with a demo workspace and a sample brief. "
        "--once: run the brief through every stage, print one JSON report and exit. "
        "--chinese: the sample brief is a Chinese poem (literature-zh), for a built-in model "
        "trained on Chinese text with train_model --corpus."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--chinese", action="store_true",
                            help="submit a Chinese poem brief; the built-in model must have "
                            "learnt Chinese (train_model --corpus)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--timeout", type=float, default=600, help="seconds per stage")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        builtin = settings.MODELS_DIR / "builtin"
        chinese = options["chinese"]
        if chinese and (missing := demo.chinese_model_missing(builtin)):
            raise CommandError(missing)
        if not (builtin / "config.json").exists():
            self.stderr.write("No built-in model yet: training one (a few minutes, once).")
            call_command("train_model")
        workspace = demo.demo_workspace_ensure()
        if options["once"]:
            self._run_once(workspace, options["timeout"], chinese=chinese)
        else:
            self._serve(workspace, options["port"], chinese=chinese)

    def _run_once(self, workspace: demo.DemoWorkspace, timeout: float, *, chinese: bool) -> None:
        try:
            with platform_running(env=demo.DEMO_ENV):
                brief = demo.demo_brief_submit(workspace, chinese=chinese)
                brief = demo.wait_for_state(brief.pk, {"in_review"}, timeout)
                demo.demo_approve_best(brief, workspace.file_target)
                demo.wait_for_publications(brief.pk, timeout)
                demo.wait_for_state(brief.pk, {"published"}, timeout)
        except demo.DemoFailed as exc:
            raise CommandError(f"The demo brief did not make it: {exc}") from exc
        self.stdout.write(json.dumps(demo.demo_report(brief.pk)))

    def _serve(self, workspace: demo.DemoWorkspace, port: int, *, chinese: bool) -> None:
        port = port or free_port()

        def started() -> str:
            brief = demo.demo_brief_submit(workspace, chinese=chinese)
            return (f"\nDashboard: http://127.0.0.1:{port}/   "
                    f"(admin: http://127.0.0.1:{port}/admin/)\n"
                    f"Logins: {demo.EDITOR} / {demo.DEMO_PASSWORD} (editor), "
                    f"{demo.REVIEWER} / {demo.DEMO_PASSWORD} (reviewer)\n"
                    f"Sample brief #{brief.pk} is generating now. Logs: {settings.VAR_DIR}/logs/\n"
                    "Ctrl-C or SIGTERM stops everything.\n")

        serve_until_stopped(self, port=port, started=started, env=demo.DEMO_ENV)
