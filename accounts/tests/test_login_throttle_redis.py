import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from accounts.tests.test_auth_api import TOKEN, assert_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
@pytest.mark.django_db
def test_failures_counted_by_another_process_throttle_this_one(api_client, user):
    """With Redis as the cache, a second web process sees the same failure counters."""
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    script = (
        "from accounts.login_throttle import login_failure_record\n"
        "for _ in range(5):\n"
        "    login_failure_record(email='alice@example.com', ip='203.0.113.7')\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=dict(os.environ), check=True
    )
    response = api_client.post(
        TOKEN,
        {"email": "alice@example.com", "password": "whatever-it-is"},
        format="json",
        REMOTE_ADDR="198.51.100.1",
    )
    assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
