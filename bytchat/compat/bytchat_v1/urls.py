"""Bytchat v1's paths, relative to COMPAT_BYTCHAT_V1_PREFIX (the site root by default).

The documents spell some paths with a trailing slash and some without; FastAPI redirected
the other spelling, so both are answered here (a POST cannot follow a redirect). `GET /`
is the platform's welcome view, routed in bytchat/urls.py.
"""

from django.urls import re_path

from bytchat.compat.bytchat_v1 import views

BOT_ID = r"(?P<bot_id>[^/]+)"

urlpatterns = [
    re_path(r"^token/?$", views.TokenView.as_view(), name="bytchat-v1-token"),
    re_path(r"^users/?$", views.UserCreateView.as_view(), name="bytchat-v1-users"),
    re_path(r"^bots/?$", views.BotListCreateView.as_view(), name="bytchat-v1-bots"),
    re_path(rf"^bots/{BOT_ID}/?$", views.BotDetailView.as_view(), name="bytchat-v1-bot-detail"),
    re_path(
        rf"^bots/{BOT_ID}/models/?$", views.ModelConfigCreateView.as_view(), name="bytchat-v1-bot-models"
    ),
    re_path(rf"^bots/{BOT_ID}/train/?$", views.TrainView.as_view(), name="bytchat-v1-bot-train"),
    re_path(rf"^chat/{BOT_ID}/?$", views.chat_view, name="bytchat-v1-chat"),
]
