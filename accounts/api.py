"""Password login for scripts, token rotation and revocation, and who the caller is."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.lockout import LOCKED_OUT
from accounts.throttling import ScopedClientThrottle
from core.api import errors

SCHEMA_TAG = "auth"


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(source="key", help_text="Send as `Authorization: Token <token>`.")
    created = serializers.DateTimeField()


class LoginApi(APIView):
    authentication_classes = []  # a stale session cookie must not demand a CSRF token here
    permission_classes = [AllowAny]
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "login"

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})

    @extend_schema(
        operation_id="auth_login",
        request=InputSerializer,
        responses={200: TokenOutputSerializer, **errors(400, 429, authenticated=False)},
        summary="Exchange a username and password for your API token",
        description="Returns the token shown on your profile page, creating it if you have none. Failed tries "
        "count towards the login limit of every entry point (429 `locked_out` once reached) and are throttled.",
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request: django-axes counts the failure there, in the one login limit that the
        # login page and the admin share, and marks a locked-out one.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise exceptions.Throttled(detail=LOCKED_OUT, code="locked_out")
        if user is None:
            raise serializers.ValidationError({"non_field_errors": ["wrong username or password"]})
        return Response(TokenOutputSerializer(services.api_token_get_or_create(user=user)).data)


class TokenApi(APIView):
    throttle_classes = [ScopedClientThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_token_create",
        request=None,
        responses={201: TokenOutputSerializer, **errors(429)},
        summary="Create a new API token; the previous one stops working",
    )
    def post(self, request):
        token = services.api_token_rotate(user=request.user)
        return Response(TokenOutputSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_token_revoke",
        responses={204: None, **errors(429)},
        summary="Revoke your API token",
    )
    def delete(self, request):
        services.api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()

    @extend_schema(operation_id="auth_me", responses={200: OutputSerializer, **errors()}, summary="Who you are")
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)
