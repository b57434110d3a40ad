# Idempotency keys become their requester's: unique per (requested_by, key), and among requests without a
# requester (the chat bot's "chat-<chat>-<order>" keys) unique as before. Every existing row keeps its key:
# keys were unique over the whole table, so they are unique per requester too. The new constraints are
# added before the old one is dropped, so no moment is without one.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0005_chat_moves_to_its_own_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='refundrequest',
            constraint=models.UniqueConstraint(condition=models.Q(('requested_by__isnull', False)), fields=('requested_by', 'idempotency_key'), name='tickets_refund_key_per_requester'),
        ),
        migrations.AddConstraint(
            model_name='refundrequest',
            constraint=models.UniqueConstraint(condition=models.Q(('requested_by__isnull', True)), fields=('idempotency_key',), name='tickets_refund_key_without_requester'),
        ),
        migrations.AlterField(
            model_name='refundrequest',
            name='idempotency_key',
            field=models.CharField(max_length=64, verbose_name='idempotency key'),
        ),
    ]
