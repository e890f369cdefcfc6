"""Every production URL, plus the list benchmark's two baselines (bench/list_bench.py):
- `bench/bare-drf`: a DRF view with the native API's JWT authentication and permission
  that returns a fixed body, no database read after authentication, no serializer;
- `bench/bare-json`: a plain Django view returning the same body as a `JsonResponse`.
Both answer with `BODY`, which the benchmark sets to what the measured endpoint returned,
so that the three render the same bytes."""

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

BODY: dict = {}


class BareDrfView(APIView):
    def get(self, request):
        return Response(BODY)


def bare_json(request):
    return JsonResponse(BODY)


urlpatterns = [
    path("bench/bare-drf", BareDrfView.as_view()),
    path("bench/bare-json", bare_json),
    path("", include("bytchat.urls")),
]
