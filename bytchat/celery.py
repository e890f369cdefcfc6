"""The Celery app. Configured from Django settings prefixed CELERY_ (see settings.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")

app = Celery("bytchat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
