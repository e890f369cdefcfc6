from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.errors import (
    AccountSuspended,
    EmailDomainNotAllowed,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetLink,
    LoginThrottled,
    SelfModificationForbidden,
)
from accounts.models import User
from bytchat.api.client import client_ip
from bytchat.api.pagination import CursorPagination
from bytchat.api.permissions import IsAdmin, IsManagerOrAdmin, RegistrationAllowed
from bytchat.api.schema import raises


def _login_response(user: User, tokens: services.TokenPair) -> Response:
    body = {**tokens.__dict__, "user": s.UserSerializer(user).data}
    return Response(body)


@extend_schema(tags=["auth"])
class RegisterView(GenericAPIView):
    permission_classes = [RegistrationAllowed]
    serializer_class = s.RegisterSerializer

    @extend_schema(responses={201: s.UserSerializer})
    @raises(EmailDomainNotAllowed)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["auth"])
class TokenView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = s.LoginSerializer

    @extend_schema(responses={200: s.LoginResponseSerializer})
    @raises(InvalidCredentials, AccountSuspended, LoginThrottled)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, tokens = services.auth_login(**serializer.validated_data, ip=client_ip(request))
        return _login_response(user, tokens)


@extend_schema(tags=["auth"])
class TokenRefreshView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = s.RefreshSerializer

    @extend_schema(responses={200: s.TokenPairSerializer})
    @raises(InvalidRefreshToken)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens = services.auth_tokens_refresh(refresh=serializer.validated_data["refresh"])
        return Response(tokens.__dict__)


@extend_schema(tags=["auth"])
class LogoutView(GenericAPIView):
    """Revoke a refresh token. Access tokens already issued expire on their own."""

    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = s.RefreshSerializer

    @extend_schema(responses={204: None})
    @raises(InvalidRefreshToken)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.auth_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class PasswordForgotView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = s.PasswordForgotSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "password_reset"

    @extend_schema(responses={200: s.DetailSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response(
            {"detail": "If an account exists for this email, a link to reset its password is on its way."}
        )


@extend_schema(tags=["auth"])
class PasswordResetView(GenericAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = s.PasswordResetSerializer

    @extend_schema(responses={200: s.DetailSerializer})
    @raises(InvalidResetLink)
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response({"detail": "Your password has been changed. Log in with the new one."})


@extend_schema(tags=["me"])
class MeView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.ProfileUpdateSerializer

    @extend_schema(responses={200: s.UserSerializer})
    def get(self, request):
        return Response(s.UserSerializer(request.user).data)

    @extend_schema(responses={200: s.UserSerializer})
    def patch(self, request):
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **serializer.validated_data)
        return Response(s.UserSerializer(user).data)


@extend_schema(tags=["me"])
class OnboardingCompleteView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = None

    @extend_schema(request=None, responses={200: s.UserSerializer})
    def post(self, request):
        user = services.user_complete_onboarding(user=request.user)
        return Response(s.UserSerializer(user).data)


@extend_schema(tags=["users"])
class UserListCreateView(GenericAPIView):
    pagination_class = CursorPagination

    def get_permissions(self):
        return [IsAdmin()] if self.request.method == "POST" else [IsManagerOrAdmin()]

    def get_serializer_class(self):
        return s.AdminUserCreateSerializer if self.request.method == "POST" else s.UserSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("role", enum=["user", "manager", "admin"]),
            OpenApiParameter("status", enum=["active", "suspended"]),
        ],
        responses={200: s.UserSerializer(many=True)},
    )
    def get(self, request):
        filters = s.UserListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.user_list(**filters.validated_data))
        return self.get_paginated_response(s.UserSerializer(page, many=True).data)

    @extend_schema(
        request=s.AdminUserCreateSerializer,
        responses={201: s.UserSerializer},
    )
    def post(self, request):
        serializer = s.AdminUserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(s.UserSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["users"])
class UserDetailView(GenericAPIView):
    permission_classes = [IsAdmin]
    serializer_class = s.AdminUserUpdateSerializer

    @extend_schema(responses={200: s.UserSerializer})
    @raises(SelfModificationForbidden)
    def patch(self, request, user_id):
        user = selectors.user_get(user_id=user_id)
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_admin_update(actor=request.user, user=user, **serializer.validated_data)
        return Response(s.UserSerializer(user).data)


@extend_schema(tags=["users"])
class PlanListView(ListAPIView):
    permission_classes = [IsManagerOrAdmin]
    serializer_class = s.PlanSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.plan_list()
