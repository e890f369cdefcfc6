from django.urls import path

from chat.api import views

urlpatterns = [
    path("conversations", views.ConversationListCreateView.as_view(), name="conversation-list"),
    path(
        "conversations/<uuid:conversation_id>",
        views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<uuid:conversation_id>/archive",
        views.ConversationArchiveView.as_view(),
        name="conversation-archive",
    ),
    path(
        "conversations/<uuid:conversation_id>/messages",
        views.MessageListView.as_view(),
        name="conversation-messages",
    ),
    path("messages/<uuid:message_id>/feedback", views.FeedbackView.as_view(), name="message-feedback"),
    path("suggestions", views.SuggestionListView.as_view(), name="suggestions"),
    path("api-keys", views.ApiKeyListCreateView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path("chat", views.chat_view, name="chat"),
    path("chat/<uuid:message_id>/stop", views.AnswerStopView.as_view(), name="chat-stop"),
    path("chat/<uuid:message_id>/events", views.answer_events_view, name="chat-events"),
    path("chat/<uuid:message_id>/events", views.AnswerEventsSchemaView.as_view()),  # OpenAPI only
    path("chat", views.ChatSchemaView.as_view()),  # OpenAPI only; see its docstring
    path("chat/<uuid:message_id>/regenerate", views.regenerate_view, name="chat-regenerate"),
    path("chat/<uuid:message_id>/regenerate", views.RegenerateSchemaView.as_view()),  # OpenAPI only
    path("chat/<uuid:message_id>/edit", views.edit_view, name="chat-edit"),
    path("chat/<uuid:message_id>/edit", views.EditSchemaView.as_view()),  # OpenAPI only
    path(
        "messages/<uuid:message_id>/versions", views.MessageVersionListView.as_view(), name="message-versions"
    ),
    path(
        "conversations/<uuid:conversation_id>/export",
        views.ConversationExportView.as_view(),
        name="conversation-export",
    ),
]
