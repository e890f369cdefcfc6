from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as DrfCursorPagination

from bytchat.errors import InvalidInput


class InvalidCursor(InvalidInput):
    code = "INVALID_CURSOR"
    default_message = "The cursor is invalid: use the `next` or `previous` link of a page."


class CursorPagination(DrfCursorPagination):
    """Newest first, `?limit=` up to 100, opaque `?cursor=` links in `next`/`previous`.

    DRF decodes the cursor but passes its position to the database as it came, so a
    crafted one (`p=notadate`) failed there, and it answers a cursor it cannot read with
    404. Here any cursor this paginator did not write is a 400 INVALID_CURSOR, its
    position read with the ordering field's own `to_python`."""

    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise InvalidCursor() from exc
        if cursor is None or cursor.position is None:
            return cursor
        return cursor._replace(position=self._position(cursor.position))

    def _position(self, text: str):
        name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation: DRF's own reading
            return text
        try:
            value = field.to_python(text)
        except (ValidationError, ValueError, TypeError, OverflowError) as exc:
            raise InvalidCursor() from exc
        # Positions are written from aware datetimes; a naive one was not written here.
        if value is None or (isinstance(field, models.DateTimeField) and value.tzinfo is None):
            raise InvalidCursor()
        return value


@dataclass
class Page:
    items: list[Any]
    more: bool

    @property
    def last(self) -> Any:
        """The row a next page continues after, None on the last page."""
        return self.items[-1] if self.more and self.items else None


def newest_first_page(queryset: QuerySet, *, limit: int, offset: int = 0, after: Any = None) -> Page:
    """`limit` rows of `queryset`, newest first by (created_at, id), from `offset` rows
    after the row whose primary key is `after` (the last row of the previous page), for
    the compatibility APIs whose documents define such cursors. One query more than the
    page tells whether another page follows; an `after` that names no row is a 400."""
    rows = queryset.order_by("-created_at", "-id")
    if after is not None:
        created_at = queryset.model.objects.filter(pk=after).values_list("created_at", flat=True).first()
        if created_at is None:
            raise InvalidInput(fields={"cursor": ["Unknown cursor."]})
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=after))
    items = list(rows[offset : offset + limit + 1])
    return Page(items=items[:limit], more=len(items) > limit)
