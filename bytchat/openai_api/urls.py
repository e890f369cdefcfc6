"""The OpenAI-compatible API, relative to settings.OPENAI_API_PREFIX (default `openai/v1/`)."""

from django.urls import path

from bytchat.openai_api import views

urlpatterns = [
    path("models", views.model_list_view, name="openai-models"),
    path("models/<str:model_id>", views.model_detail_view, name="openai-model"),
    path("chat/completions", views.chat_completions_view, name="openai-chat-completions"),
]
