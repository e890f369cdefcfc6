import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
django.setup(set_prefix=False)

from bytchat.middleware import ASGIHandler  # noqa: E402 (needs the apps loaded)

application = ASGIHandler()
