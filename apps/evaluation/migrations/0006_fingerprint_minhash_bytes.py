"""Fingerprints keep their MinHash signature as bytes (uint64, little-endian), as they keep
their embedding: a JSON list of 64 nineteen-digit numbers took twice the room, and decoding
it was a third of the time evaluation spent reading a workspace's published pieces. Step
one: the bytes beside the list, converted both ways; 0007 drops the list. The conversion is
frozen here (the code's stored form may move on)."""

from collections.abc import Callable
from typing import Any

import numpy as np
from django.db import migrations, models

BATCH = 2000


def _convert(apps: Any, source: str, target: str, convert: Callable[[Any], Any]) -> None:
    fingerprint = apps.get_model("evaluation", "TextFingerprint")
    batch = []
    for row in fingerprint.objects.only("pk", source).order_by("pk").iterator(chunk_size=BATCH):
        setattr(row, target, convert(getattr(row, source)))
        batch.append(row)
        if len(batch) == BATCH:
            fingerprint.objects.bulk_update(batch, [target])
            batch = []
    fingerprint.objects.bulk_update(batch, [target])


def forwards(apps: Any, schema_editor: Any) -> None:
    _convert(apps, "signature", "minhash",
             lambda values: np.asarray(values, dtype="<u8").tobytes())


def backwards(apps: Any, schema_editor: Any) -> None:
    _convert(apps, "minhash", "signature",
             lambda stored: np.frombuffer(bytes(stored), dtype="<u8").tolist())


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0005_gates_warn_unreadable")]

    operations = [
        # A default for the list, so that undoing 0007 can add its column back to full rows
        # (this migration's backwards then fills it in).
        migrations.AlterField(
            model_name="textfingerprint", name="signature",
            field=models.JSONField(default=list, help_text="MinHash of 5-word shingles"),
        ),
        migrations.AddField(
            model_name="textfingerprint", name="minhash",
            field=models.BinaryField(default=b"",
                                     help_text="MinHash of 5-word shingles: uint64 little-endian"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
