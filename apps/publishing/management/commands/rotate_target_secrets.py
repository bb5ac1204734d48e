"""Re-encrypt target credentials with the newest key after one was prepended to
AIGC_ENCRYPTION_KEYS; the old key can be dropped afterwards."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.publishing.targets import target_secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt every publishing target's secret with the newest encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Re-encrypted {target_secrets_rotate()} target secrets.")
