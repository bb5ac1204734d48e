from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_role_groups(**kwargs: object) -> None:
    from apps.accounts.services import roles_sync_groups

    roles_sync_groups()


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Permissions exist only after migrate has run, so the role groups are
        # (re)built then rather than in a data migration. No sender: the call
        # after the last app's migrations is the one that sees every permission.
        post_migrate.connect(_sync_role_groups, dispatch_uid="accounts.sync_role_groups")
