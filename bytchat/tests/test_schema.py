"""The OpenAPI schema at /api/v1/schema/ tells the truth about the native API."""

from __future__ import annotations

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                yield path, method.upper(), operation


def _validator(schema: dict, component: str) -> jsonschema.Draft202012Validator:
    document = {"$ref": f"#/components/schemas/{component}", "components": schema["components"]}
    return jsonschema.Draft202012Validator(document)


def test_nested_field_errors_match_the_error_envelope_schema(user_client, schema):
    # A list of nested objects reports its errors per item: {"initial_configs": [{...}]}.
    response = user_client.post(
        "/api/v1/bots",
        {"name": "Helper", "initial_configs": [{"provider": "no-such-provider", "model_id": ""}]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body["error"]["fields"]["initial_configs"][0], dict)
    _validator(schema, "ErrorEnvelope").validate(body)


def test_flat_field_errors_still_match_the_error_envelope_schema(user_client, schema):
    response = user_client.post("/api/v1/bots", {"name": ""}, format="json")
    assert response.status_code == 400
    _validator(schema, "ErrorEnvelope").validate(response.json())


def test_the_panels_json_endpoints_are_not_in_the_public_schema(client, schema):
    assert not [path for path in schema["paths"] if not path.startswith("/api/v1/")]
    served = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert "/app/api/" not in served.content.decode()


def _statuses(schema: dict, path: str, method: str) -> set[int]:
    return {int(status) for status in schema["paths"][path][method.lower()]["responses"]}


def test_every_operation_documents_its_authentication_throttle_and_id_errors(schema):
    for path, method, operation in _operations(schema):
        statuses = {int(status) for status in operation["responses"]}
        if operation.get("security") and {"jwtAuth": []} in operation["security"]:
            assert 401 in statuses, (method, path)
        if "{" in path:
            assert 404 in statuses, (method, path)
        if method in {"POST", "PATCH"} and "requestBody" in operation:
            assert {400, 413, 415} <= statuses, (method, path)
        assert 429 in statuses, (method, path)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorEnvelope"
                }


def test_role_restricted_operations_document_403_and_open_ones_do_not(schema):
    assert 403 in _statuses(schema, "/api/v1/plans", "GET")
    assert 403 in _statuses(schema, "/api/v1/analytics/overview", "GET")
    assert 403 not in _statuses(schema, "/api/v1/conversations", "GET")
    # No authentication at all on the login endpoints: no 401 but the login's own.
    assert 401 not in _statuses(schema, "/api/v1/auth/password/forgot", "POST")
    assert (
        "INVALID_CREDENTIALS"
        in schema["paths"]["/api/v1/auth/token"]["post"]["responses"]["401"]["description"]
    )


def test_the_chat_endpoint_documents_its_limits(schema):
    responses = schema["paths"]["/api/v1/chat"]["post"]["responses"]
    for code in (
        "CONVERSATION_LIMIT_PER_BOT",
        "CONVERSATION_LIMIT",
        "MESSAGE_LIMIT",
        "CONVERSATION_ARCHIVED",
    ):
        assert code in responses["409"]["description"]
    for code in ("RATE_LIMIT_EXCEEDED", "TOKEN_QUOTA_EXCEEDED"):
        assert code in responses["429"]["description"]
    assert {"200", "201", "400", "401", "404", "409", "413", "415", "429"} <= set(responses)


def test_a_documented_403_is_what_a_regular_user_gets(user_client, schema):
    response = user_client.get("/api/v1/plans")
    assert response.status_code == 403
    assert 403 in _statuses(schema, "/api/v1/plans", "GET")
    _validator(schema, "ErrorEnvelope").validate(response.json())


def test_a_run_that_counted_no_tokens_matches_the_runs_schema(admin_client_api, schema, user):
    # A run where no model answered (or one stored before usage sources) has none.
    from analytics.tests.factories import make_conversation, make_exchange
    from bots.tests.factories import make_bot
    from chat.models import Run

    make_exchange(conversation=make_conversation(user=user, bot=make_bot(owner=user)))
    assert Run.objects.update(usage_source="") >= 1

    response = admin_client_api.get("/api/v1/analytics/runs")

    assert response.status_code == 200
    usage_source = response.json()["results"][0]["usage_source"]
    assert usage_source == ""
    field = schema["components"]["schemas"]["Run"]["properties"]["usage_source"]
    document = {**field, "components": schema["components"]}
    jsonschema.Draft202012Validator(document).validate(usage_source)
