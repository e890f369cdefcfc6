"""The ESCOMBOT API (escombot-api.md), relative to settings.COMPAT_ESCOMBOT_PREFIX."""

from django.urls import path

from bytchat.compat.escombot import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="escombot-login"),
    path("chats", views.ChatListCreateView.as_view(), name="escombot-chats"),
    path("chats/<str:chat_id>/messages", views.ChatMessageListView.as_view(), name="escombot-chat-messages"),
    path("messages", views.message_create_view, name="escombot-messages"),
]
