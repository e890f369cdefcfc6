"""The MagicAI API (magicai-api.md), mounted at settings.COMPAT_MAGICAI_PREFIX."""

from django.urls import path

from bytchat.compat.magicai import views

app_name = "magicai"

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/register", views.RegisterView.as_view(), name="register"),
    path("auth/forgot-password", views.ForgotPasswordView.as_view(), name="forgot-password"),
    path("users/me", views.MeView.as_view(), name="me"),
    path("users", views.UserListView.as_view(), name="users"),
    path("onboarding/status", views.OnboardingStatusView.as_view(), name="onboarding-status"),
    path("onboarding/language", views.OnboardingLanguageView.as_view(), name="onboarding-language"),
    path("onboarding/complete", views.OnboardingCompleteView.as_view(), name="onboarding-complete"),
    path("categories", views.CategoryListCreateView.as_view(), name="categories"),
    path("categories/<uuid:category_id>", views.CategoryDetailView.as_view(), name="category"),
    path("agents", views.AgentListCreateView.as_view(), name="agents"),
    path("agents/by-category", views.AgentByCategoryView.as_view(), name="agents-by-category"),
    path("agents/<uuid:agent_id>", views.AgentDetailView.as_view(), name="agent"),
    path("conversations", views.ConversationListCreateView.as_view(), name="conversations"),
    path("conversations/<uuid:conversation_id>", views.ConversationDetailView.as_view(), name="conversation"),
    path(
        "conversations/<uuid:conversation_id>/title",
        views.ConversationTitleView.as_view(),
        name="conversation-title",
    ),
    path("messages/<uuid:conversation_id>", views.messages_view, name="messages"),
    path("admin/stats/overview", views.StatsOverviewView.as_view(), name="stats-overview"),
    path("admin/stats/users", views.StatsUsersView.as_view(), name="stats-users"),
    path("admin/stats/agents", views.StatsAgentsView.as_view(), name="stats-agents"),
]
