"""Parallel metadata changes on PostgreSQL, where they really run at once: the typed
values a filter reads always match the metadata the document ends with."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import auth_tokens_issue
from bots.knowledge.filters import metadata_rows
from bots.models import Document, DocumentMetadataValue
from bots.tests.factories import make_bot, make_indexed_document

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 10


def test_parallel_patches_leave_the_typed_values_of_exactly_one_of_them(user):
    bot = make_bot(owner=user, language="en")
    document = make_indexed_document(bot=bot, text="Reserves.", metadata={"program": "start"})
    token = auth_tokens_issue(user=user).access
    barrier = threading.Barrier(PARALLEL)
    bodies = [
        {"program": f"P{index}", "year": 2000 + index, "tags": [f"t{index}", f"u{index}", "shared"]}
        for index in range(PARALLEL)
    ]

    def patch(index: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        try:
            url = f"/api/v1/bots/{bot.pk}/documents/{document.pk}"
            return client.patch(url, {"metadata": bodies[index]}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        statuses = list(pool.map(patch, range(PARALLEL)))
    assert statuses == [200] * PARALLEL
    final = Document.objects.get(pk=document.pk).metadata
    assert final in bodies
    stored = sorted(
        DocumentMetadataValue.objects.filter(document=document).values_list("key", "text", "number", "date")
    )
    expected = sorted((row["key"], row["text"], row["number"], row["date"]) for row in metadata_rows(final))
    assert stored == expected and len(stored) == 5
