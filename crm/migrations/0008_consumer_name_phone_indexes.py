# The ticket queue finds a caller by their exact name or phone (tickets.admin.TicketAdmin.get_search_results).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("crm", "0007_seed_risk_patterns")]

    operations = [
        migrations.AddIndex(
            model_name="consumer", index=models.Index(fields=["display_name"], name="crm_consumer_name")
        ),
        migrations.AddIndex(
            model_name="consumer",
            index=models.Index(condition=~models.Q(phone=""), fields=["phone"], name="crm_consumer_phone"),
        ),
    ]
