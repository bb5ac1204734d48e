from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aigc_platform.stack import platform_running, run_until_interrupted


class Command(BaseCommand):
    help = "Run web, workers and beat on this machine (and the embedded Valkey without REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:  # the web process then serves the collected files (whitenoise)
            call_command("collectstatic", interactive=False, verbosity=0)
        try:
            with platform_running(web_port=options["port"]) as processes:
                self.stdout.write(f"Serving on http://127.0.0.1:{options['port']}/ — "
                                  "Ctrl-C or SIGTERM stops everything.")
                self.stdout.flush()
                dead = run_until_interrupted(processes)
        except KeyboardInterrupt:  # a signal while starting: what had started is stopped
            return
        if dead:
            raise CommandError(f"{', '.join(dead)} stopped, so everything was stopped; "
                               f"see {settings.VAR_DIR}/logs/")
