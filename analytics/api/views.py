"""Usage, quality and reliability figures for staff: managers and admins read them, only
admins list and delete every user's conversations."""

import logging

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.api import serializers as s
from analytics.periods import Period
from bytchat.api.pagination import CursorPagination
from bytchat.api.permissions import IsAdmin, IsManagerOrAdmin
from chat.services.conversations import conversation_delete

logger = logging.getLogger(__name__)


def _query(request, serializer_class) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


@extend_schema(tags=["analytics"])
class OverviewView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.PeriodQuerySerializer], responses={200: s.OverviewSerializer})
    def get(self, request):
        query = _query(request, s.PeriodQuerySerializer)
        result = selectors.overview(period=Period.last(query["days"]), language=request.user.language)
        return Response(s.OverviewSerializer(result).data)


@extend_schema(tags=["analytics"])
class DailyView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.PeriodQuerySerializer], responses={200: s.DailySeriesSerializer})
    def get(self, request):
        period = Period.last(_query(request, s.PeriodQuerySerializer)["days"])
        points = selectors.daily_series(period=period)
        return Response(s.DailySeriesSerializer({"period": period, "results": points}).data)


@extend_schema(tags=["analytics"])
class BotStatsView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.RankingQuerySerializer], responses={200: s.BotStatsListSerializer})
    def get(self, request):
        query = _query(request, s.RankingQuerySerializer)
        period = Period.last(query["days"])
        bots = selectors.bot_stats(period=period, language=request.user.language, limit=query["limit"])
        return Response(s.BotStatsListSerializer({"period": period, "results": bots}).data)


@extend_schema(tags=["analytics"])
class UserStatsView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.RankingQuerySerializer], responses={200: s.UserStatsListSerializer})
    def get(self, request):
        query = _query(request, s.RankingQuerySerializer)
        period = Period.last(query["days"])
        users = selectors.user_stats(period=period, limit=query["limit"])
        return Response(s.UserStatsListSerializer({"period": period, "results": users}).data)


@extend_schema(tags=["analytics"])
class ChannelStatsView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.ChannelQuerySerializer], responses={200: s.ChannelStatsListSerializer})
    def get(self, request):
        query = _query(request, s.ChannelQuerySerializer)
        period = Period.last(query["days"])
        channels = selectors.channel_stats(period=period, channel=query.get("channel"))
        return Response(s.ChannelStatsListSerializer({"period": period, "results": channels}).data)


@extend_schema(tags=["analytics"])
class ApiKeyStatsView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.RankingQuerySerializer], responses={200: s.ApiKeyStatsListSerializer})
    def get(self, request):
        query = _query(request, s.RankingQuerySerializer)
        period = Period.last(query["days"])
        keys = selectors.api_key_stats(period=period, limit=query["limit"])
        return Response(s.ApiKeyStatsListSerializer({"period": period, "results": keys}).data)


@extend_schema(tags=["analytics"])
class RunListView(GenericAPIView):
    permission_classes = [IsManagerOrAdmin]
    pagination_class = CursorPagination
    serializer_class = s.RunSerializer

    @extend_schema(
        parameters=[
            s.RunFilterSerializer,
            OpenApiParameter("limit", int, description="Page size, up to 100."),
            OpenApiParameter("cursor", str, description="From the `next` or `previous` link."),
        ],
        responses={200: s.RunSerializer(many=True)},
    )
    def get(self, request):
        runs = selectors.run_list(**_query(request, s.RunFilterSerializer))
        page = self.paginate_queryset(runs)
        context = {"language": request.user.language}
        return self.get_paginated_response(s.RunSerializer(page, many=True, context=context).data)


@extend_schema(tags=["analytics"])
class FeedbackSummaryView(APIView):
    permission_classes = [IsManagerOrAdmin]

    @extend_schema(parameters=[s.FeedbackQuerySerializer], responses={200: s.FeedbackSummarySerializer})
    def get(self, request):
        query = _query(request, s.FeedbackQuerySerializer)
        period = Period.last(query["days"])
        groups = selectors.feedback_summary(
            period=period, bot=query.get("bot"), language=request.user.language
        )
        body = {"period": period, "sample_limit": selectors.FEEDBACK_SAMPLE_PER_BOT, "results": groups}
        return Response(s.FeedbackSummarySerializer(body).data)


@extend_schema(tags=["analytics"])
class ConversationListView(GenericAPIView):
    """Every user's conversations. Admins only."""

    permission_classes = [IsAdmin]
    pagination_class = CursorPagination
    serializer_class = s.AdminConversationSerializer

    @extend_schema(
        parameters=[
            s.ConversationFilterSerializer,
            OpenApiParameter("limit", int, description="Page size, up to 100."),
            OpenApiParameter("cursor", str, description="From the `next` or `previous` link."),
        ],
        responses={200: s.AdminConversationSerializer(many=True)},
    )
    def get(self, request):
        conversations = selectors.conversation_list_all(
            actor=request.user, **_query(request, s.ConversationFilterSerializer)
        )
        page = self.paginate_queryset(conversations)
        context = {"language": request.user.language}
        return self.get_paginated_response(
            s.AdminConversationSerializer(page, many=True, context=context).data
        )


@extend_schema(tags=["analytics"])
class ConversationDetailView(APIView):
    """Delete any user's conversation with its messages and feedback; its runs stay, for
    the figures, detached from it. Admins only."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={204: None})
    def delete(self, request, conversation_id):
        conversation = selectors.conversation_get_any(actor=request.user, conversation_id=conversation_id)
        conversation_delete(conversation=conversation)
        logger.info("Admin %s deleted conversation %s", request.user.pk, conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
