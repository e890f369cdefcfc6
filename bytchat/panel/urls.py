"""The web panel at /app/: its pages, and the JSON endpoints its JavaScript calls."""

from django.urls import path

from bytchat.panel import api, views

app_name = "panel"

json_api = [
    path("api/bots/<uuid:bot_id>", api.BotDetailView.as_view(), name="api-bot"),
    path("api/bots/<uuid:bot_id>/models", api.ModelConfigListCreateView.as_view(), name="api-bot-models"),
    path(
        "api/bots/<uuid:bot_id>/models/<uuid:config_id>",
        api.ModelConfigDetailView.as_view(),
        name="api-bot-model",
    ),
    path("api/bots/<uuid:bot_id>/documents", api.DocumentListCreateView.as_view(), name="api-bot-documents"),
    path(
        "api/bots/<uuid:bot_id>/documents/<uuid:document_id>",
        api.DocumentDetailView.as_view(),
        name="api-bot-document",
    ),
    path(
        "api/bots/<uuid:bot_id>/documents/<uuid:document_id>/reindex",
        api.DocumentReindexView.as_view(),
        name="api-bot-document-reindex",
    ),
    path("api/conversations", api.ConversationListCreateView.as_view(), name="api-conversations"),
    path(
        "api/conversations/<uuid:conversation_id>",
        api.ConversationDetailView.as_view(),
        name="api-conversation",
    ),
    path(
        "api/conversations/<uuid:conversation_id>/archive",
        api.ConversationArchiveView.as_view(),
        name="api-conversation-archive",
    ),
    path(
        "api/conversations/<uuid:conversation_id>/messages",
        api.MessageListView.as_view(),
        name="api-conversation-messages",
    ),
    path("api/messages/<uuid:message_id>/feedback", api.FeedbackView.as_view(), name="api-message-feedback"),
    path("api/suggestions", api.SuggestionListView.as_view(), name="api-suggestions"),
    path("api/chat", api.chat_stream, name="api-chat"),
]

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("register/", views.register_view, name="register"),
    path("password/forgot/", views.password_forgot_view, name="password-forgot"),
    path("password/reset/<str:uid>/<str:token>/", views.password_reset_view, name="password-reset"),
    path("language/", views.language_view, name="language"),
    path("profile/", views.profile_view, name="profile"),
    path("bots/new/", views.bot_create_view, name="bot-create"),
    path("bots/<uuid:bot_id>/", views.bot_edit_view, name="bot-edit"),
    path("bots/<uuid:bot_id>/delete/", views.bot_delete_view, name="bot-delete"),
    path("bots/<uuid:bot_id>/chat/", views.bot_chat_view, name="bot-chat"),
    path("conversations/<uuid:conversation_id>/", views.conversation_view, name="conversation"),
    *json_api,
]
