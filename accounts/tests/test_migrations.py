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
        old_plan = old_apps.get_model("accounts", "Plan")
        old_plan.objects.create(name="Pro")
        old_plan.objects.create(name="Team")
        # The default plan of 0002 is there too, unless an earlier transactional test
        # flushed it.
        plans = old_plan.objects.count()

        new_apps = _migrate([("accounts", "0003_plan_public_id")])
        public_ids = list(new_apps.get_model("accounts", "Plan").objects.values_list("public_id", flat=True))
    finally:
        # Back to the latest schema for the tests that follow (migrations added after this one).
        _migrate(None)
    assert len(public_ids) == plans and None not in public_ids
    assert len(set(public_ids)) == plans
