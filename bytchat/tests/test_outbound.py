"""The rule for user-set URLs (`bytchat.outbound`) and the encryption of stored keys
(`bytchat.crypto`). Names resolve through the tests' DNS table (`fake_dns`), never for real."""

from __future__ import annotations

import asyncio

import httpcore2
import httpx2
import pytest

from bytchat import crypto, outbound


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/v1",
        "http://localhost:11434/v1",
        "http://10.0.0.1/v1",
        "http://192.168.1.20:8000/v1",
        "http://172.16.0.1/v1",
        "http://100.64.0.1/v1",
        "http://0.0.0.0/v1",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::1]:8000/v1",
        "http://[fc00::1]/v1",
        "http://[fe80::1]/v1",
        "http://[::ffff:10.0.0.1]/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://[64:ff9b::a00:1]/v1",
        "http://2130706433/v1",
        "http://0177.0.0.1/v1",
        "http://0x7f.0.0.1/v1",
        "http://0x7f000001/v1",
        "http://127.1/v1",
        "http://017700000001/v1",
        "http://internal.example.com/v1",
        "http://half-internal.example.com/v1",
        "http://does-not-resolve.example.com/v1",
        "ftp://llm.example.com/v1",
        "file:///etc/passwd",
        "http:///v1",
        "http://llm.example.com:99999/v1",
    ],
)
def test_internal_and_malformed_urls_are_refused(url, fake_dns):
    fake_dns["localhost"] = ["127.0.0.1", "::1"]
    fake_dns["metadata.google.internal"] = ["169.254.169.254"]
    fake_dns["internal.example.com"] = ["10.1.2.3"]
    # One internal address among public ones is enough to refuse.
    fake_dns["half-internal.example.com"] = ["93.184.216.34", "192.168.0.10"]

    with pytest.raises(outbound.UnsafeURL):
        outbound.check_url(url)


@pytest.mark.parametrize(
    "url", ["https://llm.example.com/v1", "http://llm.example.com:8080/v1", "https://93.184.216.34/v1"]
)
def test_public_urls_pass(url, fake_dns):
    fake_dns["llm.example.com"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    outbound.check_url(url)


def test_the_refusal_does_not_say_which_internal_address_a_name_has(fake_dns):
    fake_dns["internal.example.com"] = ["10.1.2.3"]

    with pytest.raises(outbound.UnsafeURL) as refused:
        outbound.check_url("http://internal.example.com/v1")

    assert "10.1.2.3" not in refused.value.message


@pytest.mark.parametrize(
    ("allowed", "url", "passes"),
    [
        (["ollama"], "http://ollama:11434/v1", True),
        (["ollama:11434"], "http://ollama:11434/v1", True),
        (["ollama:11434"], "http://ollama:8000/v1", False),
        (["OLLAMA"], "http://ollama/v1", True),
        (["127.0.0.1:8000"], "http://127.0.0.1:8000/v1", True),
        (["[::1]:8000"], "http://[::1]:8000/v1", True),
        (["vllm.internal"], "https://vllm.internal/v1", True),
        (["vllm.internal:80"], "https://vllm.internal/v1", False),  # https is port 443
        ([], "http://ollama:11434/v1", False),
    ],
)
def test_the_operators_allow_list_admits_hosts_and_ports(settings, allowed, url, passes):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = allowed

    if passes:
        outbound.check_url(url)
    else:
        with pytest.raises(outbound.UnsafeURL):
            outbound.check_url(url)


def test_the_guarded_client_refuses_before_connecting(fake_dns, monkeypatch):
    """The connect-time check: the name resolves to loopback now, so no socket is opened."""
    fake_dns["llm.example.com"] = ["127.0.0.1"]
    opened = []

    async def connect_tcp(self, host, port, **kwargs):
        opened.append((host, port))
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(httpcore2.AnyIOBackend, "connect_tcp", connect_tcp)

    async def get():
        async with outbound.guarded_async_client(timeout=5) as client:
            await client.get("http://llm.example.com:8000/v1/models")

    with pytest.raises(httpx2.ConnectError, match=r"Refused to connect to llm\.example\.com"):
        asyncio.run(get())
    assert opened == []


def test_the_guarded_client_connects_to_the_checked_address_not_the_name(fake_dns, monkeypatch):
    """No second resolution: the socket goes to the address that was checked."""
    fake_dns["llm.example.com"] = ["93.184.216.34"]
    opened = []

    async def connect_tcp(self, host, port, **kwargs):
        opened.append((host, port))
        raise httpcore2.ConnectError("stop here")

    monkeypatch.setattr(httpcore2.AnyIOBackend, "connect_tcp", connect_tcp)

    async def get():
        async with outbound.guarded_async_client(timeout=5) as client:
            await client.get("http://llm.example.com:8000/v1/models")

    with pytest.raises(httpx2.ConnectError):
        asyncio.run(get())
    assert opened == [("93.184.216.34", 8000)]


def test_httpx_still_keeps_its_connection_pool_where_the_guard_replaces_it():
    """`GuardedTransport` swaps httpx's `_pool` for one with the guarded network backend;
    this fails if httpx stops using that attribute."""
    transport = httpx2.AsyncHTTPTransport()
    assert isinstance(transport._pool, httpcore2.AsyncConnectionPool)
    assert "self._pool.handle_async_request" in _source(httpx2.AsyncHTTPTransport.handle_async_request)
    guarded = outbound.GuardedTransport()
    assert isinstance(guarded._pool._network_backend, outbound.GuardedNetworkBackend)


def _source(function) -> str:
    import inspect

    return inspect.getsource(function)


# --- crypto ------------------------------------------------------------------------------
def test_a_secret_is_encrypted_and_decrypts_back():
    token = crypto.encrypt("sk-live-abcdef123456")
    assert "sk-live" not in token and "123456" not in token
    assert crypto.decrypt(token) == "sk-live-abcdef123456"
    assert crypto.encrypt("sk-live-abcdef123456") != token  # a fresh IV every time


def test_a_rotated_secret_key_still_decrypts_through_the_fallbacks(settings):
    settings.SECRET_KEY = "old-secret-key-" + "x" * 40
    token = crypto.encrypt("sk-live-abcdef123456")
    settings.SECRET_KEY = "new-secret-key-" + "y" * 40

    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(token)
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-" + "x" * 40]
    assert crypto.decrypt(token) == "sk-live-abcdef123456"


def test_a_dedicated_field_encryption_key_is_used_when_set(settings):
    settings.FIELD_ENCRYPTION_KEY = "field-key-one"
    token = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEY = "field-key-two,field-key-one"  # rotated: the old one still reads
    assert crypto.decrypt(token) == "secret"
    settings.FIELD_ENCRYPTION_KEY = ""
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(token)


@pytest.mark.parametrize(
    ("secret", "hint"),
    [
        ("sk-proj-0123456789abcd", "sk-…abcd"),
        ("AIzaSyExample1234", "AIz…1234"),
        ("short7", "…t7"),
        ("abc", "…"),
    ],
)
def test_the_hint_shows_only_the_ends_of_a_key(secret, hint):
    assert crypto.secret_hint(secret) == hint
