# Live chat's models moved to the chat app (chat/migrations/0001_initial.py takes them over). Only the
# migration state changes here: the tables, their rows and their ids stay exactly as they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0004_chat_priority_routing'),
        # The frozen role table of core 0005 still names tickets.view_chatsession & co.: it must run
        # while those models are still in this app's state (on a fresh database too).
        ('core', '0005_roles_qa_chat_radio'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='ChatSession'),
                migrations.DeleteModel(name='KnowledgeArticle'),
                migrations.DeleteModel(name='ProactiveRule'),
            ],
            database_operations=[],
        ),
    ]
