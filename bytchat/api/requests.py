"""The base of the request bodies parsed on the event loop, before a chat's first token
(`bytchat.api.async_views.parse_json`).

A DRF serializer gives each instance its own fields by deep-copying the declared ones,
and a field's deep copy constructs it again from its arguments: about 60 µs a field,
some 400 µs of the 550 that validating a chat request took (on the event loop, where
every stream waits for it). `RequestSerializer` copies each field's attributes instead,
which is what the construction produced; a field that holds other fields (a list's
child, a nested serializer) is still deep-copied, as DRF does."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers
from rest_framework.fields import Field


def copy_field(field: Field) -> Field:
    """An unbound copy of a declared field, as `copy.deepcopy(field)` gives."""
    state = field.__dict__
    if isinstance(field, serializers.BaseSerializer) or any(
        isinstance(value, Field) for value in state.values()
    ):
        return copy.deepcopy(field)
    clone = object.__new__(type(field))
    clone.__dict__ = state.copy()
    if "_validators" in state:  # its own list: a validator added to one copy stays there
        clone._validators = list(state["_validators"])
    return clone


class RequestSerializer(serializers.Serializer):
    """`serializers.Serializer`, whose fields are copied rather than constructed again for
    each instance."""

    def get_fields(self) -> dict[str, Any]:
        return {name: copy_field(field) for name, field in self._declared_fields.items()}
