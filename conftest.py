"""Fixtures shared by every app's tests."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.factories import make_user


def pytest_collection_modifyitems(config, items):
    database_engine = settings.DATABASES["default"]["ENGINE"]
    skip_postgres = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://...")
    for item in items:
        if "postgres" in item.keywords and database_engine != "django.db.backends.postgresql":
            item.add_marker(skip_postgres)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle and login-failure counters live in the cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process in tests even when REDIS_URL names a broker; the one test
    that starts a real worker turns this off for itself."""
    from bytchat.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> dict[str, list[str]]:
    """No test resolves a name for real: `bytchat.outbound` asks this table (name ->
    addresses; a missing name does not resolve). Tests add the names they need."""
    from bytchat import outbound

    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        try:
            return list(table[host.lower()])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the test's DNS table") from None

    monkeypatch.setattr(outbound, "resolve", resolve)
    return table


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return make_user(email="alice@example.com")


@pytest.fixture
def other_user(db):
    return make_user(email="bob@example.com")


@pytest.fixture
def manager(db):
    return make_user(email="manager@example.com", role="manager")


@pytest.fixture
def admin_user(db):
    return make_user(email="admin@example.com", role="admin")


def _client_for(user) -> APIClient:
    from accounts.services import auth_tokens_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth_tokens_issue(user=user).access}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return _client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return _client_for(other_user)


@pytest.fixture
def manager_client(manager) -> APIClient:
    return _client_for(manager)


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def client_for():
    return _client_for


@pytest.fixture(autouse=True)
def fake_embedder(settings):
    """Tests use a small deterministic embedder unless they ask for the real model
    (`local_embedder`); both go through `bots.knowledge.embeddings`."""
    from bots.knowledge import embeddings, vectors
    from bots.tests.embedders import FakeEmbedder

    embeddings.register_embedder("fake", FakeEmbedder)
    settings.EMBEDDINGS_PROVIDER = "fake"
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_DIMENSIONS = 0
    settings.EMBEDDINGS_RETRY_SECONDS = 0
    vectors.clear_cache()
    yield embeddings.get_embedder()
    vectors.clear_cache()


@pytest.fixture
def local_embedder(settings, fake_embedder):
    """The real multilingual-e5-small (loaded once per process, shared by the tests)."""
    from bots.knowledge import embeddings

    settings.EMBEDDINGS_PROVIDER = "local"
    return embeddings.get_embedder()
