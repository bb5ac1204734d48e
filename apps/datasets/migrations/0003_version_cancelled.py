from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0002_version_heartbeat'),
    ]

    operations = [
        migrations.AlterField(
            model_name='datasetversion',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=12),
        ),
    ]
