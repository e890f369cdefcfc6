import uuid

from django.db import migrations, models


def fill_public_ids(apps, schema_editor):
    # One UUID each: a field default would give every existing plan the same one.
    Plan = apps.get_model("accounts", "Plan")
    for plan in Plan.objects.filter(public_id__isnull=True).only("pk"):
        Plan.objects.filter(pk=plan.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_default_plan")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="plan",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
