from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0005_model_registry'),
    ]

    operations = [
        migrations.AlterField(
            model_name='trainingrun',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='queued', max_length=16),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='tokens_trained',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='device_seconds',
            field=models.FloatField(default=0.0, help_text='seconds a worker held the run'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='tokens_per_step',
            field=models.PositiveIntegerField(default=0, help_text='at most: batch size x window, set when a worker claims it'),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='budget_tokens',
            field=models.PositiveBigIntegerField(blank=True, help_text='tokens_trained may reach this (null: unlimited)', null=True),
        ),
        migrations.AddField(
            model_name='trainingrun',
            name='budget_seconds',
            field=models.FloatField(blank=True, help_text='device_seconds may reach this (null: unlimited)', null=True),
        ),
    ]
