"""Mask again the words stored before the detector knew Chinese numerals and number words (一三八…, "one three eight").

Quotes, notes and headlines are stored masked because they leave for many people at once (the digest page,
the morning audio). Rows are rewritten only where masking changes them, in batches.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from core.text import mask_pii

FIELDS = {"Nomination": ("quote", "note", "headline"), "DigestItem": ("quote", "note", "headline")}
BATCH = 2000
HEADLINE_MAX = 200  # a mask can be longer than the digits it hides


def remask(apps: Any, schema_editor: Any) -> None:
    for model_name, fields in FIELDS.items():
        model = apps.get_model("radio", model_name)
        changed = []
        for row in model.objects.only("pk", *fields).iterator(chunk_size=BATCH):
            masked = {field: mask_pii(getattr(row, field)) for field in fields}
            masked["headline"] = masked["headline"][:HEADLINE_MAX]
            if any(masked[field] != getattr(row, field) for field in fields):
                for field, value in masked.items():
                    setattr(row, field, value)
                changed.append(row)
            if len(changed) >= BATCH:
                model.objects.bulk_update(changed, fields)
                changed = []
        model.objects.bulk_update(changed, fields)


class Migration(migrations.Migration):
    dependencies = [("radio", "0002_subscription_labels")]

    operations = [migrations.RunPython(remask, migrations.RunPython.noop)]
