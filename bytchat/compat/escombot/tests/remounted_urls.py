"""The ESCOMBOT API mounted at `api/`, as a deployment replacing ESCOMBOT's server would."""

from django.urls import include, path

urlpatterns = [path("api/", include("bytchat.compat.escombot.urls"))]
