# Live chat's models, taken over from the tickets app (tickets/migrations/0005 lets them go). The
# tables already exist (as tickets_*): this migration changes the migration state only, then moves the
# models' content types to this app, so that their permissions (and the groups holding them) and the
# admin's history entries follow. 0002 renames the tables.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("chatsession", "knowledgearticle", "proactiverule")


def move_content_types(apps, schema_editor, source="tickets", target="chat"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if ContentType.objects.using(db).filter(app_label=target, model=model).exists():
            continue  # already there (a database created after the move): nothing to carry over
        ContentType.objects.using(db).filter(app_label=source, model=model).update(app_label=target)
    ContentType.objects.clear_cache()


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="chat", target="tickets")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('crm', '0004_review_created_index'),
        ('tickets', '0005_chat_moves_to_its_own_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='KnowledgeArticle',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('title', models.CharField(max_length=200, verbose_name='question')),
                    ('questions', models.TextField(blank=True, help_text='Other ways consumers ask this, one per line.', verbose_name='other wordings')),
                    ('answer', models.TextField(verbose_name='answer')),
                    ('language', models.CharField(choices=[('zh-hans', '简体中文'), ('en', 'English')], default='zh-hans', max_length=8, verbose_name='language')),
                    ('active', models.BooleanField(default=True, verbose_name='active')),
                    ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ],
                options={
                    'db_table': 'tickets_knowledgearticle',
                    'verbose_name': 'knowledge article',
                    'verbose_name_plural': 'knowledge articles',
                    'ordering': ['language', 'title'],
                },
            ),
            migrations.CreateModel(
                name='ProactiveRule',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=100, verbose_name='name')),
                    ('condition', models.CharField(choices=[('late_delivery', 'An order paid at least N days ago is not delivered yet'), ('refund_review', 'A refund request is waiting for manual review'), ('recently_delivered', 'An order was delivered in the last N days'), ('open_dispute', 'An order has an open dispute')], max_length=32, verbose_name='when')),
                    ('days', models.PositiveSmallIntegerField(default=3, verbose_name='N days')),
                    ('message', models.TextField(help_text='Placeholders: {consumer}, {order}, {item}, {amount}.', verbose_name='message')),
                    ('language', models.CharField(choices=[('zh-hans', '简体中文'), ('en', 'English')], default='zh-hans', max_length=8, verbose_name='language')),
                    ('priority', models.PositiveSmallIntegerField(default=10, help_text='When several rules match, the lowest number speaks.', verbose_name='priority')),
                    ('active', models.BooleanField(default=True, verbose_name='active')),
                ],
                options={
                    'db_table': 'tickets_proactiverule',
                    'verbose_name': 'proactive rule',
                    'verbose_name_plural': 'proactive rules',
                    'ordering': ['priority', 'pk'],
                },
            ),
            migrations.CreateModel(
                name='ChatSession',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('state', models.CharField(choices=[('bot', 'With the bot'), ('waiting', 'Waiting for an agent'), ('active', 'With an agent'), ('ended', 'Ended')], default='bot', max_length=16, verbose_name='state')),
                    ('language', models.CharField(choices=[('zh-hans', '简体中文'), ('en', 'English')], default='zh-hans', max_length=8, verbose_name='language')),
                    ('bot_misses', models.PositiveSmallIntegerField(default=0, verbose_name='bot misses in a row')),
                    ('handoff_reason', models.CharField(blank=True, choices=[('asked', 'The consumer asked for a person'), ('misses', 'The bot could not answer twice in a row'), ('anger', 'Complaint or anger words'), ('priority', "Priority routing of the consumer's tier"), ('bot_error', 'The bot failed'), ('requeued', 'Accepted but not answered in time'), ('transferred', 'Transferred by an agent')], max_length=16, verbose_name='handed off because')),
                    ('queue_rank', models.PositiveSmallIntegerField(default=0, verbose_name='queue rank')),
                    ('queued_at', models.DateTimeField(blank=True, null=True, verbose_name='queued at')),
                    ('accepted_at', models.DateTimeField(blank=True, null=True, verbose_name='accepted at')),
                    ('answered_at', models.DateTimeField(blank=True, null=True, verbose_name='answered at')),
                    ('callback', models.BooleanField(default=False, verbose_name='callback promised')),
                    ('priority_routing', models.BooleanField(default=False, verbose_name='priority routing')),
                    ('summary', models.JSONField(blank=True, default=dict, verbose_name="bot's summary")),
                    ('created_at', models.DateTimeField(verbose_name='started at')),
                    ('last_activity_at', models.DateTimeField(verbose_name='last activity at')),
                    ('ended_at', models.DateTimeField(blank=True, null=True, verbose_name='ended at')),
                    ('agent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='agent')),
                    ('consumer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.consumer', verbose_name='consumer')),
                    ('ticket', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='chat', to='tickets.ticket', verbose_name='ticket')),
                ],
                options={
                    'db_table': 'tickets_chatsession',
                    'verbose_name': 'live chat',
                    'verbose_name_plural': 'live chats',
                    'permissions': [('use_chat_console', 'Can take live chats in the agent console'), ('issue_chat_token', 'Can issue chat tokens for consumers')],
                    'indexes': [models.Index(fields=['state', '-queue_rank', 'queued_at'], name='tickets_chat_queue'), models.Index(fields=['state', 'accepted_at'], name='tickets_chat_accepted'), models.Index(fields=['state', 'last_activity_at'], name='tickets_chat_activity'), models.Index(fields=['agent', 'state'], name='tickets_chat_agent_state')],
                    'constraints': [models.UniqueConstraint(condition=models.Q(('state', 'ended'), _negated=True), fields=('consumer',), name='tickets_chat_one_live_per_consumer')],
                },
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
