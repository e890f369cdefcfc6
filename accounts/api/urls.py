from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token", views.TokenView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/password/forgot", views.PasswordForgotView.as_view(), name="auth-password-forgot"),
    path("auth/password/reset", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/onboarding/complete", views.OnboardingCompleteView.as_view(), name="me-onboarding-complete"),
    path("users", views.UserListCreateView.as_view(), name="user-list"),
    path("users/<uuid:user_id>", views.UserDetailView.as_view(), name="user-detail"),
    path("plans", views.PlanListView.as_view(), name="plan-list"),
]
