# The ticket queue finds a caller by their exact name or phone (tickets.admin.TicketAdmin.get_search_results).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0008_tier_return_and_dispute_privileges")]

    operations = [
        migrations.AddIndex(
            model_name="consumer", index=models.Index(fields=["display_name"], name="crm_consumer_name")
        ),
        migrations.AddIndex(
            model_name="consumer",
            index=models.Index(condition=~models.Q(phone=""), fields=["phone"], name="crm_consumer_phone"),
        ),
    ]
