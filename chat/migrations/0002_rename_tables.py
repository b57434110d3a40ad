# The tables take the chat app's names (a rename: rows, ids, indexes and constraints stay as they are).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelTable(name='chatsession', table=None),
        migrations.AlterModelTable(name='knowledgearticle', table=None),
        migrations.AlterModelTable(name='proactiverule', table=None),
    ]
