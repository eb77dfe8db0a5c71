"""The error mapper: clients get the public text, held short; the log gets the rest."""

from __future__ import annotations

import logging

import orjson
import pytest

from modelport.api.errors import MAX_MESSAGE_CHARS, error_response, public_message
from modelport.errors import (
    PUBLIC_DATABASE_UNAVAILABLE,
    DatabaseUnavailableError,
    InvalidRequestError,
)


def test_a_database_outage_is_public_in_general_terms_and_logged_in_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = DatabaseUnavailableError("the database is unavailable: db.internal:3306 refused")
    with caplog.at_level(logging.WARNING, logger="modelport.api.errors"):
        response = error_response(error, "/v1/admin/models/x\nINFO: forged/versions")
    assert response.status_code == 503
    body = orjson.loads(bytes(response.body))
    assert body == {"error": "database_unavailable", "message": PUBLIC_DATABASE_UNAVAILABLE}
    assert "db.internal:3306" in caplog.text
    assert "\nINFO: forged" not in caplog.text  # the path is quoted, its newline escaped
    assert "x\\nINFO: forged" in caplog.text


def test_a_client_error_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="modelport.api.errors"):
        assert public_message(InvalidRequestError("bad limit"), "GET '/x'") == "bad limit"
    assert caplog.text == ""


def test_every_message_is_held_short() -> None:
    message = public_message(InvalidRequestError("m" * 100_000), "GET '/x'")
    assert message.endswith("… (100,000 characters)")
    assert len(message) < MAX_MESSAGE_CHARS + 40


def test_v2_answers_the_public_text_too() -> None:
    response = error_response(DatabaseUnavailableError("host db.internal"), "/v2/models/m/infer")
    assert orjson.loads(bytes(response.body)) == {"error": PUBLIC_DATABASE_UNAVAILABLE}
