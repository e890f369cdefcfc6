"""Baseline: Django with the project's settings and middleware, and one URL that streams
a chat through the project's SDK path (`chat.llm`'s failover and OpenAI provider, the SSE
helpers) with no database and no authentication. Outside the production URLs."""

from bytchat.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baselines.django_urls"
