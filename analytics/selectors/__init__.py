"""Reads of the analytics app. Every selector runs a fixed number of queries, computes its
figures in the database, and reads closed days from the daily rollups where it can.

A period's days before today come from the rollups when the beat task has written them;
from the first day that has none (today at the latest) to now, figures are computed live
from the runs by the same functions the rollups use (analytics.figures), so the answer
is the same either way, only faster with rollups.
"""

from analytics.selectors.channels import ApiKeyStats, ChannelStats, api_key_stats, channel_stats
from analytics.selectors.feedback import (
    FEEDBACK_SAMPLE_PER_BOT,
    FeedbackComment,
    FeedbackGroup,
    feedback_summary,
)
from analytics.selectors.rankings import BotStats, UserStats, bot_stats, user_stats
from analytics.selectors.records import conversation_get_any, conversation_list_all, run_list
from analytics.selectors.usage import DailyPoint, Overview, daily_series, overview

__all__ = [
    "FEEDBACK_SAMPLE_PER_BOT",
    "ApiKeyStats",
    "BotStats",
    "ChannelStats",
    "DailyPoint",
    "FeedbackComment",
    "FeedbackGroup",
    "Overview",
    "UserStats",
    "api_key_stats",
    "bot_stats",
    "channel_stats",
    "conversation_get_any",
    "conversation_list_all",
    "daily_series",
    "feedback_summary",
    "overview",
    "run_list",
    "user_stats",
]
