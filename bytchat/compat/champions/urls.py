"""The Champions Loan Expert API (champions-api.md), relative to its mount prefix
(settings.COMPAT_CHAMPIONS_PREFIX, `compat/champions/api/` by default)."""

from django.urls import path

from . import views

app_name = "champions"

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/me", views.MeView.as_view(), name="me"),
    path("auth/users", views.UserListView.as_view(), name="users"),
    path("auth/users/<uuid:user_id>/role", views.UserRoleView.as_view(), name="user-role"),
    path("chat", views.chat_view, name="chat"),
    path("suggestions", views.SuggestionListView.as_view(), name="suggestions"),
    path("conversations", views.ConversationListView.as_view(), name="conversations"),
    path("conversations/feedback", views.FeedbackView.as_view(), name="feedback"),
    path("conversations/<uuid:conversation_id>", views.ConversationDetailView.as_view(), name="conversation"),
    path(
        "conversations/<uuid:conversation_id>/archive",
        views.ConversationArchiveView.as_view(),
        name="conversation-archive",
    ),
    path("admin/analytics", views.AnalyticsView.as_view(), name="admin-analytics"),
    path("admin/runs", views.RunListView.as_view(), name="admin-runs"),
    path("admin/users", views.AdminUserListView.as_view(), name="admin-users"),
    path("admin/users/<uuid:user_id>/status", views.AdminUserStatusView.as_view(), name="admin-user-status"),
    path("admin/conversations", views.AdminConversationListView.as_view(), name="admin-conversations"),
    path(
        "admin/conversations/<uuid:conversation_id>",
        views.AdminConversationDeleteView.as_view(),
        name="admin-conversation",
    ),
    path("admin/documents", views.AdminDocumentListView.as_view(), name="admin-documents"),
]
