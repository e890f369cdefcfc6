"""The deployment files agree with the code they deploy.

docker-compose.yml runs modules that exist, with options the servers accept; nginx streams
the chat paths and lets uploads through; .env.example names exactly the variables the app
reads, and docs/configuration.md documents them; Django's deployment checks pass with production
settings, and the app refuses to start without a SECRET_KEY.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rest_framework.settings import api_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
SETTINGS_FILE = ROOT / "bytchat" / "settings.py"
SEED_DEMO_FILE = ROOT / "bots" / "management" / "commands" / "seed_demo.py"

SERVICES = {"nginx", "web", "worker", "beat", "db", "redis"}
APP_SERVICES = ("web", "worker", "beat")  # the ones built from our Dockerfile
HEALTHCHECKED = ("web", "worker", "db", "redis")
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list"}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _service(name: str) -> dict:
    return _compose()["services"][name]


def _expand(value: str) -> str:
    """Compose interpolation with nothing set: ${NAME:-default} gives its default."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Z0-9_]+:\?[^}]*\}", "set-in-env", value)
    return value.replace("$$", "$")


def _command(name: str) -> list[str]:
    command = _service(name)["command"]
    assert isinstance(command, list), f"{name}: write the command as a list (no shell)"
    return [_expand(str(part)) for part in command]


def _environment(name: str) -> dict[str, str]:
    return {key: _expand(str(value)) for key, value in _service(name).get("environment", {}).items()}


def _mounts(name: str) -> dict[str, str]:
    """Container path -> source (a named volume or a host path), for one service."""
    mounts = {}
    for entry in _service(name).get("volumes", []):
        source, target = entry.split(":")[:2]
        mounts[target] = source
    return mounts


def _nginx_config() -> str:
    source = _mounts("nginx")["/etc/nginx/nginx.conf"]
    path = ROOT / source
    assert path.is_file(), f"docker-compose.yml mounts {source}, which does not exist"
    return path.read_text()


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip("'\"")
    return values


def _variables_read_by_settings() -> set[str]:
    tree = ast.parse(SETTINGS_FILE.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ENV_READERS
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def _variables_read_by_seed_demo() -> set[str]:
    return set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z0-9_]+)[\"']", SEED_DEMO_FILE.read_text()))


def _variables_interpolated_by_compose() -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _production_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without any Bytchat setting, plus the given ones."""
    names = _variables_read_by_settings() | set(_env_example())
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(overrides)
    return env


def _random_secret_key() -> str:
    return secrets.token_urlsafe(50)


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_defines_the_whole_stack():
    assert set(_compose()["services"]) >= SERVICES


def test_web_serves_the_asgi_application_with_options_uvicorn_accepts():
    uvicorn_cli = importlib.import_module("uvicorn.main").main
    command = _command("web")
    assert command[0] == "uvicorn"
    # Parsing checks every option against uvicorn's own command line; nothing starts.
    params = uvicorn_cli.make_context("uvicorn", command[1:]).params
    module_name, attribute = params["app"].split(":")
    application = getattr(importlib.import_module(module_name), attribute)
    assert callable(application)
    assert params["port"] == 8000
    assert "8000" in [str(port) for port in _service("web").get("expose", [])]


@pytest.mark.parametrize(("service", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_celery_services_run_the_bytchat_celery_app(service, subcommand):
    from celery import Celery

    command = _command(service)
    assert command[0] == "celery"
    assert subcommand in command
    app_options = [part.split("=", 1)[1] for part in command if part.startswith("--app=")]
    assert app_options, f"{service}: name the app with --app="
    # Celery resolves `--app=bytchat` to bytchat.celery:app.
    module = importlib.import_module(f"{app_options[0]}.celery")
    assert isinstance(module.app, Celery)
    assert module.app.main == "bytchat"


def test_beat_keeps_its_schedule_on_a_volume():
    command = _command("beat")
    schedule = next(part.split("=", 1)[1] for part in command if part.startswith("--schedule="))
    mounted = [target for target in _mounts("beat") if schedule.startswith(target.rstrip("/") + "/")]
    assert mounted, f"beat writes {schedule}, which is on no volume"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_read_env_file_and_reach_db_and_redis(service):
    definition = _service(service)
    env_file = definition["env_file"]
    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)
    assert definition["build"] == "."
    environment = _environment(service)
    assert re.fullmatch(r"postgres://[^@]+@db:5432/\w+", environment["DATABASE_URL"])
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_web_knows_it_is_behind_one_proxy():
    environment = _environment("web")
    assert environment["USE_X_FORWARDED_PROTO"] == "true"
    assert environment["NUM_PROXIES"] == "1"


# Ids end in "-service": conftest skips items whose keywords include a bare "redis".
@pytest.mark.parametrize("service", HEALTHCHECKED, ids=[f"{name}-service" for name in HEALTHCHECKED])
def test_services_have_healthchecks(service):
    test = _service(service)["healthcheck"]["test"]
    command = " ".join(test)
    expected = {"web": "/healthz", "worker": "inspect ping", "db": "pg_isready", "redis": "redis-cli ping"}
    assert expected[service] in command


def test_services_wait_for_healthy_dependencies():
    services = _compose()["services"]
    for name, definition in services.items():
        for dependency, condition in definition.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has none"


def test_db_is_postgres_16_with_its_data_on_a_volume():
    db = _service("db")
    assert db["image"].startswith("postgres:16")
    assert _mounts("db")["/var/lib/postgresql/data"] in _compose()["volumes"]


def test_web_and_worker_share_the_uploaded_documents():
    media_root = _environment("web")["MEDIA_ROOT"]
    assert _environment("worker")["MEDIA_ROOT"] == media_root
    volume = _mounts("web")[media_root]
    assert volume in _compose()["volumes"]
    assert _mounts("worker")[media_root] == volume


def test_nginx_serves_the_static_files_web_collects():
    static_root = _environment("web")["STATIC_ROOT"]
    volume = _mounts("web")[static_root]
    nginx_path = next(target for target, source in _mounts("nginx").items() if source == volume)
    assert re.search(
        rf"location /static/\s*\{{\s*alias {re.escape(nginx_path.rstrip('/'))}/;", _nginx_config()
    )


# --- nginx ------------------------------------------------------------------------------


def test_nginx_proxies_to_the_web_port():
    config = _nginx_config()
    assert re.search(r"server web:8000\b", config)
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert re.search(rf"proxy_set_header {header} ", config), header


def test_nginx_admits_uploads_of_the_default_maximum_size():
    sizes = re.findall(r"client_max_body_size (\d+)m;", _nginx_config())
    assert sizes
    # settings.MAX_UPLOAD_MB's default, plus room for the multipart envelope.
    assert all(int(size) > 20 for size in sizes)


def test_nginx_streams_the_chat_paths():
    config = _nginx_config()
    match = re.search(r"location ~ (\S+) \{(.*?)\}", config, re.DOTALL)
    assert match, "no regex location for the streaming paths"
    pattern, body = match.groups()
    for directive in ("proxy_buffering off;", "proxy_cache off;", "proxy_read_timeout 300s;"):
        assert directive in body
    for path in (
        "/api/v1/chat",
        "/chat/7d9f2f3e-4c1a-4a55-9b0e-1f6b5e0c2a11",
        "/compat/champions/api/chat",
        "/compat/escombot/api/messages",
        "/compat/magicai/api/messages/42",
    ):
        assert re.search(pattern, path), path
    for path in ("/api/v1/me", "/api/v1/users", "/docs/", "/healthz"):
        assert not re.search(pattern, path), path
    assert "proxy_http_version 1.1;" in config


def test_nginx_answers_healthz_from_web():
    assert re.search(r"location = /healthz \{[^}]*proxy_pass http://", _nginx_config())


# --- The image --------------------------------------------------------------------------


def test_image_runs_as_a_non_root_user_and_keeps_secrets_out():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "EXPOSE 8000" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored


def test_entrypoint_migrates_only_for_the_web_role():
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert "migrate --no-input" in entrypoint
    assert 'exec "$@"' in entrypoint
    assert _environment("web")["BYTCHAT_ROLE"] == "web"
    assert "BYTCHAT_ROLE" not in _environment("worker")


# --- .env.example and the docs -----------------------------------------------------------


def test_env_example_lists_every_variable_the_app_reads():
    missing = (_variables_read_by_settings() | _variables_read_by_seed_demo()) - set(_env_example())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_names_only_variables_something_reads():
    read = (
        _variables_read_by_settings() | _variables_read_by_seed_demo() | _variables_interpolated_by_compose()
    )
    unknown = set(_env_example()) - read
    assert not unknown, f"nothing reads: {sorted(unknown)}"


def test_env_example_has_no_usable_secret_key():
    # Empty, so a copied .env refuses to start until someone sets a real key.
    assert _env_example()["SECRET_KEY"] == ""
    assert _env_example()["DEBUG"] == "false"


def test_configuration_doc_documents_every_variable():
    table = CONFIGURATION_DOC.read_text()
    undocumented = [name for name in _env_example() if f"`{name}`" not in table]
    assert not undocumented, f"add to the table in docs/configuration.md: {undocumented}"


# --- Django under production settings ---------------------------------------------------


def test_check_deploy_passes_with_production_settings():
    env = _production_environment(
        DEBUG="false",
        SECRET_KEY=_random_secret_key(),
        ALLOWED_HOSTS="bytchat.example.com",
        USE_X_FORWARDED_PROTO="true",
        # Preloading is opt-in (docs/deployment.md, "Security notes"); without it Django warns W021.
        SECURE_HSTS_PRELOAD="true",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="env-example"),
        pytest.param(
            {
                "SECURE_SSL_REDIRECT": "false",
                "SESSION_COOKIE_SECURE": "false",
                "CSRF_COOKIE_SECURE": "false",
                "SECURE_HSTS_SECONDS": "0",
            },
            id="plain-http",
        ),
    ],
)
def test_deployment_doc_explains_every_check_deploy_warning_of_the_example_settings(overrides):
    values = _env_example()
    # No database or Redis is reached by the checks; SQLite and local memory will do.
    values.pop("DATABASE_URL")
    values.pop("REDIS_URL")
    env = _production_environment(**{**values, "SECRET_KEY": _random_secret_key(), **overrides})
    result = _manage("check", "--deploy", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = set(re.findall(r"\((security\.W\d+)\)", output))
    unexplained = [warning for warning in sorted(warnings) if warning not in DEPLOYMENT_DOC.read_text()]
    assert not unexplained, f"explain in docs/deployment.md, Security notes: {unexplained}\n{output}"


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = _production_environment(DEBUG="false", ALLOWED_HOSTS="bytchat.example.com")
    assert "SECRET_KEY" not in env
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_behind_nginx_a_forged_forwarded_for_does_not_dodge_the_login_limit(api_client, settings):
    """nginx appends the address it sees to X-Forwarded-For; with NUM_PROXIES=1 that last
    entry, not whatever the client put before it, is the address failures count against."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # as docker-compose.yml
    assert api_settings.NUM_PROXIES == 1
    for attempt in range(settings.LOGIN_FAILURE_LIMIT):
        response = api_client.post(
            "/api/v1/auth/token",
            {"email": f"nobody{attempt}@example.com", "password": "not-the-password"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}, 203.0.113.7",
            REMOTE_ADDR="172.18.0.5",
        )
        assert response.status_code == 401, response.content
    response = api_client.post(
        "/api/v1/auth/token",
        {"email": "someone-else@example.com", "password": "not-the-password"},
        format="json",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7",
        REMOTE_ADDR="172.18.0.5",
    )
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
