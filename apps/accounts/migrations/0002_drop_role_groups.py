from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# Roles were once mirrored into these global groups; permissions are now checked per
# object against the membership's role, so the groups would only mislead.
ROLE_GROUPS = ("Editors", "Reviewers", "Admins")


def drop_role_groups(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(drop_role_groups, migrations.RunPython.noop)]
