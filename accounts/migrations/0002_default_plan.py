from django.db import migrations


def create_default_plan(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    if not Plan.objects.filter(is_default=True).exists():
        Plan.objects.get_or_create(
            name="Standard",
            defaults={
                "is_default": True,
                "max_bots": 10,
                "max_conversations_per_bot": 50,
                "max_active_conversations": 100,
                "max_messages_per_conversation": 200,
                "messages_per_minute": 20,
                "monthly_token_quota": 2_000_000,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_default_plan, migrations.RunPython.noop)]
