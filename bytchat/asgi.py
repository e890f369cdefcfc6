import gc
import importlib
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bytchat.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from bytchat.middleware import ASGIHandler  # noqa: E402 (needs the apps loaded)

application = ASGIHandler()


def _load_what_serving_loads() -> None:
    """Import now what the first requests would: the URLconf (every view and what it uses),
    DRF's configured classes, the JWT backend (PyJWT, cryptography) and the model SDKs
    the platform is configured for (`openai` alone is some 800 modules)."""
    from rest_framework.settings import api_settings
    from rest_framework_simplejwt.state import token_backend

    from chat.llm import registry
    from chat.llm.base import ProviderBadRequest

    importlib.import_module(settings.ROOT_URLCONF)
    for name in ("DEFAULT_AUTHENTICATION_CLASSES", "DEFAULT_PERMISSION_CLASSES", "DEFAULT_THROTTLE_CLASSES"):
        getattr(api_settings, name)
    token_backend.get_leeway()
    providers = settings.CHAT_PRELOAD_PROVIDERS
    try:
        registry.preload(
            registry.configured_implementations(settings) if providers == ["auto"] else providers
        )
    except ProviderBadRequest as error:
        raise ImproperlyConfigured(f"CHAT_PRELOAD_PROVIDERS: {error}") from error


# What is loaded by now lives as long as the process. Frozen, the garbage collector no
# longer goes through it at each full collection: some 200,000 objects. Under load each
# full collection paused a process 200-300 ms with none of it frozen, 44-100 ms while the
# SDK and the JWT backend were still imported at the first requests, 5-8 ms now.
_load_what_serving_loads()
gc.collect()
gc.freeze()
