import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor.loader.project_state(targets).apps if targets else None


@pytest.mark.django_db(transaction=True)
def test_existing_plans_each_get_their_own_public_id():
    try:
        old_apps = _migrate([("accounts", "0002_default_plan")])
        old_apps.get_model("accounts", "Plan").objects.create(name="Pro")
        old_apps.get_model("accounts", "Plan").objects.create(name="Team")

        new_apps = _migrate([("accounts", "0003_plan_public_id")])
        public_ids = list(new_apps.get_model("accounts", "Plan").objects.values_list("public_id", flat=True))
    finally:
        # Back to the latest schema for the tests that follow (migrations added after this one).
        _migrate(None)
    assert len(public_ids) == 3 and None not in public_ids
    assert len(set(public_ids)) == 3
