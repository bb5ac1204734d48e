"""Step two of 0006: the JSON signature goes, and the bytes take its name."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0006_fingerprint_minhash_bytes")]

    operations = [
        migrations.RemoveField(model_name="textfingerprint", name="signature"),
        migrations.RenameField(model_name="textfingerprint", old_name="minhash",
                               new_name="signature"),
        migrations.AlterField(
            model_name="textfingerprint", name="signature",
            field=models.BinaryField(help_text="MinHash of 5-word shingles: uint64 little-endian"),
        ),
    ]
