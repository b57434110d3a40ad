# The chat sweeper's periodic task was installed by beat as "tickets.sweep_chats" running
# tickets.tasks.sweep_chats, a task that no longer exists. The installed entry (perhaps tuned by an
# operator in the admin) takes the new names instead of beat installing a second one beside it.

from django.db import migrations

OLD = ("tickets.sweep_chats", "tickets.tasks.sweep_chats")
NEW = ("chat.sweep_chats", "chat.tasks.sweep_chats")


def rename(apps, schema_editor, old=OLD, new=NEW):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    db = schema_editor.connection.alias
    if PeriodicTask.objects.using(db).filter(name=new[0]).exists():
        PeriodicTask.objects.using(db).filter(name=old[0], task=old[1]).delete()
    else:
        PeriodicTask.objects.using(db).filter(name=old[0], task=old[1]).update(name=new[0], task=new[1])


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0002_rename_tables'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
