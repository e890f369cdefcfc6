from django.urls import path

from analytics.api import views

urlpatterns = [
    path("overview", views.OverviewView.as_view(), name="analytics-overview"),
    path("daily", views.DailyView.as_view(), name="analytics-daily"),
    path("bots", views.BotStatsView.as_view(), name="analytics-bots"),
    path("users", views.UserStatsView.as_view(), name="analytics-users"),
    path("channels", views.ChannelStatsView.as_view(), name="analytics-channels"),
    path("api-keys", views.ApiKeyStatsView.as_view(), name="analytics-api-keys"),
    path("runs", views.RunListView.as_view(), name="analytics-runs"),
    path("feedback", views.FeedbackSummaryView.as_view(), name="analytics-feedback"),
    path("conversations", views.ConversationListView.as_view(), name="analytics-conversations"),
    path(
        "conversations/<uuid:conversation_id>",
        views.ConversationDetailView.as_view(),
        name="analytics-conversation-detail",
    ),
]
