"""The list benchmark's settings: the project's, with two bare views mounted beside every
production URL (see list_urls). Outside the production URLs."""

from bytchat.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baselines.list_urls"
