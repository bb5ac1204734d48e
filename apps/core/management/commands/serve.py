from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigc_platform.stack import platform_running, run_until_interrupted


def serve_until_stopped(command: BaseCommand, *, port: int, started: Callable[[], str],
                        env: Mapping[str, str] | None = None) -> None:
    """Run the platform, its web server on `port`, until Ctrl-C or SIGTERM; once it runs,
    `started()` (what the demo does then, too) says what to tell the user. CommandError when
    one of its processes died: then everything was stopped."""
    try:
        with platform_running(web_port=port, env=env) as processes:
            command.stdout.write(started())
            command.stdout.flush()
            dead = run_until_interrupted(processes)
    except KeyboardInterrupt:  # a signal while starting: what had started is stopped
        return
    if dead:
        raise CommandError(f"{', '.join(dead)} stopped, so everything was stopped; "
                           f"see {settings.VAR_DIR}/logs/")


class Command(BaseCommand):
    help = "Run web, workers and beat on this machine (and the embedded Valkey without REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:  # the web process then serves the collected files (whitenoise)
            call_command("collectstatic", interactive=False, verbosity=0)
        port = options["port"]
        serve_until_stopped(self, port=port, started=lambda: (
            f"Serving on http://127.0.0.1:{port}/ — Ctrl-C or SIGTERM stops everything."))
