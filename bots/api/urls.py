from django.urls import path

from bots.api import views

urlpatterns = [
    path("categories", views.CategoryListCreateView.as_view(), name="category-list"),
    path("categories/<uuid:category_id>", views.CategoryDetailView.as_view(), name="category-detail"),
    path("model-endpoints", views.ModelEndpointListView.as_view(), name="model-endpoint-list"),
    path("bots", views.BotListCreateView.as_view(), name="bot-list"),
    path("bots/<uuid:bot_id>", views.BotDetailView.as_view(), name="bot-detail"),
    path("bots/<uuid:bot_id>/models", views.ModelConfigListCreateView.as_view(), name="bot-model-list"),
    path(
        "bots/<uuid:bot_id>/models/<uuid:config_id>",
        views.ModelConfigDetailView.as_view(),
        name="bot-model-detail",
    ),
    path("bots/<uuid:bot_id>/documents", views.DocumentListCreateView.as_view(), name="bot-document-list"),
    path(
        "bots/<uuid:bot_id>/documents/<uuid:document_id>",
        views.DocumentDetailView.as_view(),
        name="bot-document-detail",
    ),
    path(
        "bots/<uuid:bot_id>/documents/<uuid:document_id>/reindex",
        views.DocumentReindexView.as_view(),
        name="bot-document-reindex",
    ),
    path("bots/<uuid:bot_id>/search", views.BotSearchView.as_view(), name="bot-search"),
]
