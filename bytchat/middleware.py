"""Django's middleware, with its hooks run on the event loop under ASGI.

Under ASGI, `MiddlewareMixin` runs every `process_request`, `process_view` and
`process_response` in the request's sync thread. With the stack in settings that is about
fifteen thread hops, several milliseconds before a streaming view starts and again before
its first byte leaves. The hooks below only read headers and cookies, set headers and
attach lazy objects, so these subclasses call them directly. A hook that would do I/O
still goes to the thread: saving a changed session, storing messages, or reading a
multipart body for the CSRF token.

`ASGIHandler` (the application in bytchat/asgi.py) loads these in place of the Django
classes that settings.MIDDLEWARE names: the settings keep Django's own names, which
Django's deploy checks look for. Under WSGI nothing changes.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers import asgi
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security

from bytchat.threads import own_thread


def _in_thread(hook):
    return sync_to_async(hook, thread_sensitive=True)


class InlineHooks:
    """For a `MiddlewareMixin` whose hooks never block. `_response_needs_thread` names the
    requests whose `process_response` may (none by default)."""

    def _response_needs_thread(self, request: HttpRequest) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self._response_needs_thread(request):
                return await _in_thread(self.process_response)(request, response)
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class SessionMiddleware(InlineHooks, sessions.SessionMiddleware):
    # process_request attaches a lazy session; process_response saves it when it changed.
    def _response_needs_thread(self, request: HttpRequest) -> bool:
        return request.session.modified or settings.SESSION_SAVE_EVERY_REQUEST


class LocaleMiddleware(InlineHooks, locale.LocaleMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    """The token check reads `request.POST`; a multipart body (an upload) is parsed to
    disk, so that check stays in the thread."""

    def __init__(self, get_response) -> None:
        if settings.CSRF_USE_SESSIONS:
            # Every hook would read the session from the database on the event loop.
            raise ImproperlyConfigured("bytchat.middleware.CsrfViewMiddleware needs CSRF_USE_SESSIONS off.")
        super().__init__(get_response)
        if iscoroutinefunction(self.get_response):
            # Django adapts a sync process_view with a thread hop; a coroutine it awaits.
            check = csrf.CsrfViewMiddleware.process_view.__get__(self)

            async def process_view(request, callback, callback_args, callback_kwargs):
                if request.content_type == "multipart/form-data":
                    return await _in_thread(check)(request, callback, callback_args, callback_kwargs)
                return check(request, callback, callback_args, callback_kwargs)

            self.process_view = process_view


class AuthenticationMiddleware(InlineHooks, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineHooks, messages.MessageMiddleware):
    # Messages added or read during the request are stored in the session or a cookie.
    def _response_needs_thread(self, request: HttpRequest) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


def _replacing(ours: type) -> tuple[str, str]:
    django_class = ours.__bases__[-1]  # class Ours(InlineHooks, DjangoClass)
    return f"{django_class.__module__}.{django_class.__name__}", f"{__name__}.{ours.__name__}"


INLINE = dict(
    map(
        _replacing,
        (
            SecurityMiddleware,
            SessionMiddleware,
            LocaleMiddleware,
            CommonMiddleware,
            CsrfViewMiddleware,
            AuthenticationMiddleware,
            MessageMiddleware,
            XFrameOptionsMiddleware,
        ),
    )
)


# Where the handler keeps the request it made for a scope, to let go of it once served.
_REQUEST = "bytchat.request"


def _let_go(request: HttpRequest | None) -> None:
    """Empty a request that has been served. The middleware leave it in reference cycles
    (its user and `auser` are closures over it, its messages' storage refers back to it),
    so that without this it and all it holds (session, view state, the parsed body) would
    wait, at each request, for a full garbage collection to be freed: about 150 objects a
    request, and pauses of up to 300 ms under load."""
    if request is not None:
        request.__dict__.clear()


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, with the middleware above in place of Django's own, the
    request's sync steps in a reused thread (`bytchat.threads`) rather than a new one, and
    nothing of a served request left in reference cycles for the garbage collector."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with own_thread():
            try:
                await self.handle(scope, receive, send)
            finally:
                _let_go(scope.pop(_REQUEST, None))

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        scope[_REQUEST] = request
        return request, error_response

    async def listen_for_disconnect(self, receive):
        """Django's, but it returns at the client's disconnect where Django's raises
        RequestAborted for `handle` to drop: raised, its traceback held `handle`'s frame,
        which held the task that held the exception, so every request's objects (request,
        response, session, view state) lived on in a reference cycle until a full garbage
        collection freed them, at up to 300 ms a pause under load."""
        message = await receive()
        if message["type"] != "http.disconnect":
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")

    def load_middleware(self, is_async: bool = False) -> None:
        if not is_async:
            super().load_middleware(is_async)
            return
        # Django builds the chain from settings.MIDDLEWARE and offers no other way to name
        # it; the handler is built once per process, before any request, and the settings
        # get Django's names back at once (the deploy checks and the WSGI handler use them).
        django_names = settings.MIDDLEWARE
        settings.MIDDLEWARE = [INLINE.get(path, path) for path in django_names]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = django_names
