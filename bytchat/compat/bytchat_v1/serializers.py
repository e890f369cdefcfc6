"""Bytchat v1 request and response shapes. Bots, model configs and documents answer with
the native API's fields (the v1 documents do not show those bodies)."""

from __future__ import annotations

from rest_framework import serializers

from bots.api.serializers import ModelConfigWriteSerializer
from bots.models import Provider
from bytchat.api.requests import RequestSerializer

# v1 called Gemini "google" (its example: provider "google", model "gemini-1.5-flash-latest").
PROVIDER_ALIASES = {"google": Provider.GEMINI}


class TokenRequestSerializer(serializers.Serializer):
    """OAuth2's password form. `username` is the email; grant_type, scope and client
    credentials, which the form may also carry, are not used."""

    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()


class UserCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class ModelConfigCreateSerializer(ModelConfigWriteSerializer):
    provider = serializers.ChoiceField(choices=[*Provider.values, *PROVIDER_ALIASES], default=Provider.LOCAL)

    def validate_provider(self, value: str) -> str:
        return PROVIDER_ALIASES.get(value, value)


class BotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    system_prompt = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    initial_configs = ModelConfigCreateSerializer(many=True, required=False)

    def validate_initial_configs(self, value):
        if len(value) > 20:
            raise serializers.ValidationError("At most 20 model configs.")
        return value


class BotUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    system_prompt = serializers.CharField(required=False, allow_blank=True, max_length=20_000)


class ChatRequestSerializer(RequestSerializer):
    # Blank and overlong questions are refused by the chat engine, with its own messages.
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
