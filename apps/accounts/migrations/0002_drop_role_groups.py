from django.db import migrations

# Roles were once mirrored into these global groups; permissions are now checked per
# object against the membership's role, so the groups would only mislead.
ROLE_GROUPS = ("Editors", "Reviewers", "Admins")


def drop_role_groups(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(drop_role_groups, migrations.RunPython.noop)]
