"""Every URL mount of Bytchat, in one place."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from bytchat import views
from bytchat.api.docs_views import RedocView, SwaggerView

native_api = [
    path("", include("accounts.api.urls")),
    path("", include("bots.api.urls")),
    path("", include("chat.api.urls")),
    path("analytics/", include("analytics.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("", views.welcome, name="welcome"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/v1/", include(native_api)),
    path("docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("app/", include("bytchat.panel.urls")),
    # The earlier systems' APIs, each at its own (configurable) prefix. Bytchat v1 sits at
    # the root by default, so it comes last: every fixed path above wins over it.
    path(settings.OPENAI_API_PREFIX, include("bytchat.openai_api.urls")),
    path(settings.COMPAT_ESCOMBOT_PREFIX, include("bytchat.compat.escombot.urls")),
    path(settings.COMPAT_MAGICAI_PREFIX, include("bytchat.compat.magicai.urls")),
    path(settings.COMPAT_CHAMPIONS_PREFIX, include("bytchat.compat.champions.urls")),
    path(settings.COMPAT_BYTCHAT_V1_PREFIX, include("bytchat.compat.bytchat_v1.urls")),
]

# Unknown addresses under /app/ get the panel's not-found page; elsewhere Django's default.
handler404 = "bytchat.panel.views.page_not_found"

if settings.DEBUG:
    urlpatterns += staticfiles_urlpatterns()
