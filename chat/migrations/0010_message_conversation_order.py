"""A conversation's messages indexed in the order they are read, (created_at, id): its most
recent messages (a chat turn's history) are read without the rest. The new index comes
first, so that the table is never without one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0009_message_run_stopped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["conversation", "created_at", "id"], name="message_conversation_order"
            ),
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="message_conversation_time",
        ),
    ]
