from __future__ import annotations

from decimal import Decimal

from django.db import migrations

# The starting tiers; supervisors edit them in the admin afterwards.
TIERS = [
    ("88VIP", 720, Decimal("5000.00"), True, "Premium membership: instant refunds up to 5,000 yuan, priority routing"),
    ("金牌会员", 620, Decimal("1000.00"), False, "Instant refunds up to 1,000 yuan"),
    ("银牌会员", 500, Decimal("300.00"), False, "Instant refunds up to 300 yuan"),
    ("普通会员", 350, Decimal("50.00"), False, "Instant refunds up to 50 yuan"),
    ("受限", 0, Decimal("0.00"), False, "Restricted: every refund is reviewed by hand"),
]


def seed_tiers(apps, schema_editor):
    CreditTier = apps.get_model("crm", "CreditTier")
    for name, min_score, limit, priority, description in TIERS:
        CreditTier.objects.get_or_create(
            name=name,
            defaults={
                "min_score": min_score,
                "instant_refund_limit": limit,
                "priority_routing": priority,
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_rating_reviews_flags")]

    operations = [migrations.RunPython(seed_tiers, migrations.RunPython.noop)]
