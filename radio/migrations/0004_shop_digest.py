# A shop's own channel and the shop a nomination is about (issue 12: the daily merchant digest); nominations made
# before carry their ticket's merchant.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0007_merchant_takes_chats"),
        ("radio", "0003_remask_stored_words"),
        ("tickets", "0010_saved_views_and_macros"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="channel",
            name="merchant",
            field=models.ForeignKey(
                blank=True,
                help_text="Set for a shop's own channel: its staff read it, nobody subscribes.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="merchants.merchant",
                verbose_name="shop",
            ),
        ),
        migrations.AddField(
            model_name="nomination",
            name="merchant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="merchants.merchant",
                verbose_name="shop",
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="department",
            field=models.ForeignKey(
                blank=True,
                help_text="Blank for a shop's own channel.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="radio_channels",
                to="tickets.department",
                verbose_name="department",
            ),
        ),
        migrations.AddConstraint(
            model_name="channel",
            constraint=models.UniqueConstraint(fields=("merchant",), name="radio_channel_one_per_shop"),
        ),
        migrations.RunSQL(
            "UPDATE radio_nomination n SET merchant_id = t.merchant_id FROM tickets_ticket t "
            "WHERE t.id = n.ticket_id AND t.merchant_id IS NOT NULL",
            migrations.RunSQL.noop,
        ),
    ]
