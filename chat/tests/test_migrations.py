import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

CONTENT_TYPES = ("contenttypes", "0002_remove_content_type_name")
BEFORE_THE_MOVE = [
    ("analytics", "0004_run_usage_source"),
    ("chat", "0003_monthly_token_usage"),
    CONTENT_TYPES,
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


@pytest.mark.django_db(transaction=True)
def test_runs_stored_by_analytics_are_chats_after_the_move():
    try:
        old_apps = _migrate(BEFORE_THE_MOVE)
        old_run = old_apps.get_model("analytics", "Run").objects.create(
            status="success", provider="openai", model="gpt-4o-mini", input_tokens=3, output_tokens=4
        )
        content_types = old_apps.get_model("contenttypes", "ContentType").objects
        # Back where it was before the move (the reverse migration put it there).
        content_type, _ = content_types.get_or_create(app_label="analytics", model="run")

        new_apps = _migrate(
            [("analytics", "0005_run_moved_to_chat"), ("chat", "0004_run_from_analytics"), CONTENT_TYPES]
        )
        runs = list(new_apps.get_model("chat", "Run").objects.values_list("pk", "model", "input_tokens"))
        moved_type = new_apps.get_model("contenttypes", "ContentType").objects.get(pk=content_type.pk)
    finally:
        _migrate(None)
    assert runs == [(old_run.pk, "gpt-4o-mini", 3)]
    assert (moved_type.app_label, moved_type.model) == ("chat", "run")
