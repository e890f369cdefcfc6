"""The web panel at /app/: its pages, and the JSON endpoints its JavaScript calls."""

from django.urls import path

from bytchat.panel import api, views

app_name = "panel"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("register/", views.register_view, name="register"),
    path("password/forgot/", views.password_forgot_view, name="password-forgot"),
    path("password/reset/<str:uid>/<str:token>/", views.password_reset_view, name="password-reset"),
    path("language/", views.language_view, name="language"),
    path("profile/", views.profile_view, name="profile"),
    path("api-keys/", views.api_keys_view, name="api-keys"),
    path("api-keys/<uuid:key_id>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path("bots/new/", views.bot_create_view, name="bot-create"),
    path("bots/<uuid:bot_id>/", views.bot_edit_view, name="bot-edit"),
    path("bots/<uuid:bot_id>/delete/", views.bot_delete_view, name="bot-delete"),
    path("bots/<uuid:bot_id>/chat/", views.bot_chat_view, name="bot-chat"),
    path("conversations/<uuid:conversation_id>/", views.conversation_view, name="conversation"),
    *api.urlpatterns,
]
