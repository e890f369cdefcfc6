"""Native API for categories, bots, their model toolbox, knowledge documents and search.

Views parse, call one selector or service and serialize. Which bots a caller reaches is
decided in `bots.selectors` (through `BotScopedView.get_bot`), never here.
"""

from __future__ import annotations

from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import Language
from bots import selectors, services
from bots.api import serializers as s
from bots.api.uploads import UploadSizeLimit
from bots.errors import (
    DocumentBusy,
    EmptyFile,
    FileTooLarge,
    LastModelConfig,
    NotBotEditor,
    PlanLimitReached,
    StaffOnly,
    UnsupportedFileType,
)
from bots.knowledge.filters import filter_documents, filter_read
from bots.knowledge.search import search
from bots.models import Bot
from bytchat.api.cached_pages import cached_first_page, one_of, page_size
from bytchat.api.pagination import CursorPagination
from bytchat.api.permissions import IsAdmin
from bytchat.api.schema import LenientParameter, raises

LANG_PARAMETER = LenientParameter("lang", enum=["es", "en"], description=s.LANGUAGE_HELP)
LANGUAGES = {code for code, _ in Language.choices}


def request_language(request) -> str:
    """?lang=, else the first supported language of Accept-Language, else the user's."""
    requested = (request.query_params.get("lang") or "").lower()[:2]
    if requested in LANGUAGES:
        return requested
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code[:2].lower() in LANGUAGES:
            return code[:2].lower()
    return request.user.language


class LocalizedView(GenericAPIView):
    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user
        context.update(language=request_language(self.request), user=user, staff=user.is_manager_or_admin)
        return context


class BotScopedView(LocalizedView):
    """Views under /bots/{bot_id}/: the bot comes from the selectors, so another user's
    private bot is a 404 and a bot you may only use is a 403 for its management."""

    def get_bot(self, *, write: bool = False, knowledge: bool = True) -> Bot:
        user, bot_id = self.request.user, self.kwargs["bot_id"]
        if knowledge:
            return selectors.bot_get_for_knowledge(user=user, bot_id=bot_id, write=write)
        if write:
            return selectors.bot_get_editable(user=user, bot_id=bot_id)
        return selectors.bot_get_visible(user=user, bot_id=bot_id)


# --- Categories --------------------------------------------------------------------------
@extend_schema(tags=["categories"])
class CategoryListCreateView(LocalizedView):
    pagination_class = None

    def get_permissions(self):
        return [IsAdmin()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_serializer_class(self):
        return s.CategoryWriteSerializer if self.request.method == "POST" else s.CategorySerializer

    @extend_schema(parameters=[LANG_PARAMETER], responses={200: s.CategorySerializer(many=True)})
    def get(self, request):
        categories = selectors.category_list(user=request.user)
        return Response(
            s.CategorySerializer(categories, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(responses={201: s.CategorySerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        category = selectors.category_get(user=request.user, category_id=category.pk)
        return Response(
            s.CategorySerializer(category, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["categories"])
class CategoryDetailView(LocalizedView):
    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "GET" else [IsAdmin()]

    def get_serializer_class(self):
        return s.CategorySerializer if self.request.method == "GET" else s.CategoryWriteSerializer

    def _respond(self, category_id) -> Response:
        category = selectors.category_get(user=self.request.user, category_id=category_id)
        return Response(s.CategorySerializer(category, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[LANG_PARAMETER], responses={200: s.CategorySerializer})
    def get(self, request, category_id):
        return self._respond(category_id)

    @extend_schema(responses={200: s.CategorySerializer})
    def patch(self, request, category_id):
        category = selectors.category_get(user=request.user, category_id=category_id)
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.category_update(category=category, **serializer.validated_data)
        return self._respond(category_id)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, category_id):
        category = selectors.category_get(user=request.user, category_id=category_id)
        services.category_delete(category=category)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Bots --------------------------------------------------------------------------------
@extend_schema(tags=["bots"])
class BotListCreateView(LocalizedView):
    pagination_class = CursorPagination

    def get_serializer_class(self):
        return s.BotCreateSerializer if self.request.method == "POST" else s.BotSerializer

    @extend_schema(
        parameters=[LANG_PARAMETER, OpenApiParameter("category", str, description="A category id.")],
        responses={200: s.BotSerializer(many=True)},
    )
    def get(self, request):
        return cached_first_page(
            request,
            name=selectors.BOT_LIST_PAGES,
            load=lambda: self._page(request),
            depends_on=selectors.bot_list_depends_on(user=request.user),
            params={"limit": page_size(CursorPagination.max_page_size), "lang": one_of(*LANGUAGES)},
            vary=(request_language(request),),
        )

    def _page(self, request) -> dict:
        filters = s.BotListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        bots = selectors.bot_list(
            user=request.user, category_id=filters.validated_data.get("category"), model_configs=False
        )
        page = selectors.bot_list_model_configs_for_editor(
            user=request.user, bots=self.paginate_queryset(bots)
        )
        return self.get_paginated_response(
            s.BotSerializer(page, many=True, context=self.get_serializer_context()).data
        ).data

    @extend_schema(responses={201: s.BotSerializer})
    @raises(StaffOnly, PlanLimitReached)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = services.bot_create(user=request.user, **serializer.validated_data)
        return Response(
            s.BotSerializer(bot, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["bots"])
class BotDetailView(BotScopedView):
    def get_serializer_class(self):
        return s.BotSerializer if self.request.method == "GET" else s.BotWriteSerializer

    @extend_schema(parameters=[LANG_PARAMETER], responses={200: s.BotSerializer})
    def get(self, request, bot_id):
        bot = self.get_bot(knowledge=False)
        return Response(s.BotSerializer(bot, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: s.BotSerializer})
    @raises(NotBotEditor, StaffOnly)
    def patch(self, request, bot_id):
        bot = self.get_bot(write=True, knowledge=False)
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        bot = services.bot_update(user=request.user, bot=bot, **serializer.validated_data)
        return Response(s.BotSerializer(bot, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={204: None})
    @raises(NotBotEditor)
    def delete(self, request, bot_id):
        services.bot_delete(bot=self.get_bot(write=True, knowledge=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["bots"])
class ModelEndpointListView(GenericAPIView):
    """The platform endpoints a model config may use (`endpoint`), registered by staff."""

    permission_classes = [IsAuthenticated]
    pagination_class = None
    serializer_class = s.ModelEndpointSerializer

    @extend_schema(responses={200: s.ModelEndpointSerializer(many=True)})
    def get(self, request):
        return Response(s.ModelEndpointSerializer(selectors.model_endpoint_list(), many=True).data)


@extend_schema(tags=["bots"])
class ModelConfigListCreateView(BotScopedView):
    pagination_class = None

    def get_serializer_class(self):
        return s.ModelConfigWriteSerializer if self.request.method == "POST" else s.ModelConfigSerializer

    @extend_schema(responses={200: s.ModelConfigSerializer(many=True)})
    @raises(NotBotEditor)
    def get(self, request, bot_id):
        bot = self.get_bot(write=True, knowledge=False)
        return Response(s.ModelConfigSerializer(selectors.model_config_list(bot=bot), many=True).data)

    @extend_schema(responses={201: s.ModelConfigSerializer})
    @raises(NotBotEditor)
    def post(self, request, bot_id):
        bot = self.get_bot(write=True, knowledge=False)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = services.model_config_add(bot=bot, **serializer.validated_data)
        return Response(s.ModelConfigSerializer(config).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["bots"])
class ModelConfigDetailView(BotScopedView):
    serializer_class = s.ModelConfigWriteSerializer

    def _config(self):
        bot = self.get_bot(write=True, knowledge=False)
        return selectors.model_config_get(bot=bot, config_id=self.kwargs["config_id"])

    @extend_schema(responses={200: s.ModelConfigSerializer})
    @raises(NotBotEditor, LastModelConfig)
    def patch(self, request, bot_id, config_id):
        config = self._config()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        config = services.model_config_update(config=config, **serializer.validated_data)
        return Response(s.ModelConfigSerializer(config).data)

    @extend_schema(request=None, responses={204: None})
    @raises(NotBotEditor, LastModelConfig)
    def delete(self, request, bot_id, config_id):
        services.model_config_remove(config=self._config())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Knowledge ---------------------------------------------------------------------------
@extend_schema(tags=["knowledge"])
class DocumentListCreateView(BotScopedView):
    pagination_class = CursorPagination
    parser_classes = [MultiPartParser]

    def get_serializer_class(self):
        return s.DocumentUploadSerializer if self.request.method == "POST" else s.DocumentSerializer

    @extend_schema(responses={200: s.DocumentSerializer(many=True)})
    @raises(NotBotEditor)
    def get(self, request, bot_id):
        bot = self.get_bot()
        page = self.paginate_queryset(selectors.document_list(bot=bot))
        return self.get_paginated_response(s.DocumentSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": s.DocumentUploadSerializer},
        responses={202: s.DocumentSerializer},
    )
    @raises(NotBotEditor, EmptyFile, FileTooLarge, UnsupportedFileType)
    def post(self, request, bot_id):
        """Upload a document; it is indexed in the background (status `pending`)."""
        bot = self.get_bot(write=True)
        request._request.upload_handlers.insert(0, UploadSizeLimit(request._request))
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.document_upload(
            user=request.user,
            bot=bot,
            file=serializer.validated_data["file"],
            metadata=serializer.validated_data.get("metadata"),
        )
        return Response(s.DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["knowledge"])
class DocumentDetailView(BotScopedView):
    def get_serializer_class(self):
        return s.DocumentUpdateSerializer if self.request.method == "PATCH" else s.DocumentSerializer

    @extend_schema(responses={200: s.DocumentSerializer})
    @raises(NotBotEditor)
    def get(self, request, bot_id, document_id):
        document = selectors.document_get(bot=self.get_bot(), document_id=document_id)
        return Response(s.DocumentSerializer(document).data)

    @extend_schema(request=s.DocumentUpdateSerializer, responses={200: s.DocumentSerializer})
    @raises(NotBotEditor)
    def patch(self, request, bot_id, document_id):
        """Replace the document's metadata; it is not re-indexed."""
        document = selectors.document_get(bot=self.get_bot(write=True), document_id=document_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.document_set_metadata(
            document=document, metadata=serializer.validated_data["metadata"]
        )
        return Response(s.DocumentSerializer(document).data)

    @extend_schema(request=None, responses={204: None})
    @raises(NotBotEditor)
    def delete(self, request, bot_id, document_id):
        document = selectors.document_get(bot=self.get_bot(write=True), document_id=document_id)
        services.document_delete(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["knowledge"])
class DocumentReindexView(BotScopedView):
    serializer_class = None

    @extend_schema(request=None, responses={202: s.DocumentSerializer})
    @raises(NotBotEditor, DocumentBusy)
    def post(self, request, bot_id, document_id):
        document = selectors.document_get(bot=self.get_bot(write=True), document_id=document_id)
        document = services.document_reindex(document=document)
        return Response(s.DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["knowledge"])
class BotSearchView(BotScopedView):
    """The bot's best knowledge chunks for a query: what the chat engine retrieves."""

    serializer_class = s.SearchHitSerializer
    pagination_class = None

    @extend_schema(
        parameters=[s.SearchQuerySerializer],
        responses={200: s.SearchHitSerializer(many=True)},
    )
    @raises(NotBotEditor)
    def get(self, request, bot_id):
        bot = self.get_bot()
        query = s.SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        documents = filter_documents(filter_read(query.validated_data.get("filter")), bot=bot)
        hits = search(bot, query.validated_data["q"], query.validated_data.get("k"), documents=documents)
        return Response(s.SearchHitSerializer(hits, many=True).data)
