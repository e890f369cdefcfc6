"""`RequestSerializer` (bytchat/api/requests.py) copies its fields rather than constructing
them again: every request body it validates comes out as DRF's own deep copies give it,
valid or not, for every serializer that uses it."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.core.validators import MaxLengthValidator
from rest_framework import serializers

from bytchat.api.requests import RequestSerializer
from bytchat.compat.bytchat_v1 import serializers as bytchat_v1
from bytchat.compat.champions import serializers as champions
from bytchat.compat.escombot import serializers as escombot
from bytchat.compat.magicai import serializers as magicai
from chat.api import serializers as native

USING_IT = [
    native.ChatRequestSerializer,
    native.RegenerateRequestSerializer,
    native.EditRequestSerializer,
    bytchat_v1.ChatRequestSerializer,
    champions.ChatRequestSerializer,
    escombot.MessageCreateRequestSerializer,
    magicai.MessageCreateSerializer,
]

VALUES = [
    None,
    "",
    "  hello  ",
    "chat",
    str(uuid.UUID(int=7)),
    "not-a-uuid",
    0,
    12,
    10**30,
    True,
    False,
    "true",
    [],
    ["a"],
    {},
    {"lang": "es"},
    "x" * 300,
]
MISSING = object()


def _reference(cls: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The same serializer with DRF's own fields (deep copies, constructed again)."""
    return type(f"Reference{cls.__name__}", (cls,), {"get_fields": serializers.Serializer.get_fields})


def _outcome(cls, data: dict):
    serializer = cls(data=data)
    valid = serializer.is_valid()
    errors = {
        name: [(str(error), error.code) for error in found] for name, found in serializer.errors.items()
    }
    return valid, dict(serializer.validated_data) if valid else None, errors


def _bodies(cls) -> list[dict]:
    names = list(cls._declared_fields)
    bodies = [{}]
    for name, value in itertools.product(names, VALUES):
        bodies.append({name: value})
        bodies.append({**dict.fromkeys(names, "chat"), name: value})
    for value in VALUES:  # every field at once
        bodies.append(dict.fromkeys(names, value))
    return bodies


@pytest.mark.parametrize("cls", USING_IT, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_body_validates_as_with_drfs_own_fields(cls):
    assert issubclass(cls, RequestSerializer)
    reference = _reference(cls)
    for body in _bodies(cls):
        assert _outcome(cls, body) == _outcome(reference, body), body


def test_each_instance_has_fields_of_its_own():
    class Sample(RequestSerializer):
        message = serializers.CharField(max_length=5)
        tags = serializers.ListField(child=serializers.CharField(), required=False)

    first, second = Sample(data={"message": "hi"}), Sample(data={"message": "hi"})
    assert first.fields["message"] is not second.fields["message"]
    assert first.fields["message"].parent is first and second.fields["message"].parent is second
    # A list's child is deep-copied with it, as DRF does: bound to this instance's list.
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert first.fields["tags"].child.parent is first.fields["tags"]

    declared = list(Sample._declared_fields["message"].validators)
    first.fields["message"].validators.append(MaxLengthValidator(1))
    assert not first.is_valid() and second.is_valid()
    assert Sample._declared_fields["message"].validators == declared
    assert Sample(data={"message": "hi"}).is_valid()
