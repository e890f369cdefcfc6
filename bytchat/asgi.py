import gc
import importlib
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from bytchat.middleware import ASGIHandler  # noqa: E402 (needs the apps loaded)

application = ASGIHandler()

# What is loaded by now lives as long as the process: Django, the apps and, through the
# URLconf (imported here rather than at the first request), every view and what it uses.
# Frozen, the garbage collector no longer goes through it at each full collection (some
# 140,000 objects, about two thirds of a serving process's).
importlib.import_module(settings.ROOT_URLCONF)
gc.collect()
gc.freeze()
