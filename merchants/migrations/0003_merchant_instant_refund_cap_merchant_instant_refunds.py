from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0002_merchantscore"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="instant_refund_cap",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Refunds above this go to manual review whatever the consumer's tier. Blank: no cap.",
                max_digits=12,
                null=True,
                verbose_name="instant refund cap (yuan)",
            ),
        ),
        migrations.AddField(
            model_name="merchant",
            name="instant_refunds",
            field=models.BooleanField(db_default=True, default=True, verbose_name="allows instant refunds"),
        ),
    ]
