from __future__ import annotations

from django.db import migrations, models
from django.db.models import F


def finished_when_loaded(apps, schema_editor):
    # Before this migration a demo was loaded in one transaction: a row means it finished.
    apps.get_model("core", "DemoDataset").objects.update(finished_at=F("loaded_at"))


class Migration(migrations.Migration):
    dependencies = [("core", "0009_roles_returns")]

    operations = [
        migrations.AddField(
            model_name="demodataset",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
        ),
        migrations.RunPython(finished_when_loaded, migrations.RunPython.noop),
    ]
