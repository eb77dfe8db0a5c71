"""The error tree's message helpers: quoting a client's value, public texts."""

from __future__ import annotations

from modelport.errors import (
    PUBLIC_DATABASE_UNAVAILABLE,
    DatabaseUnavailableError,
    InvalidRequestError,
    ModelNotFoundError,
    VersionNotFoundError,
    clip,
    shown,
)


def test_clip_keeps_short_text_and_says_how_long_a_long_one_was() -> None:
    assert clip("short") == "short"
    assert clip("x" * 100, 10) == "xxxxxxxxxx… (100 characters)"


def test_shown_quotes_and_escapes_so_nothing_passes_for_a_new_line() -> None:
    assert shown("iris\nINFO: forged") == "'iris\\nINFO: forged'"
    assert "\n" not in shown(["a\nb", {"k": "c\nd"}])


def test_shown_clips_a_huge_value_without_copying_it_whole() -> None:
    assert shown("x" * 9_000_000) == f"'{'x' * 80}'… (9,000,000 characters)"
    assert shown(b"y" * 100, 4) == "b'yyyy'… (100 bytes)"
    assert shown(["z" * 9_000_000, "ok"]).endswith("… (9,000,000 characters), 'ok']")


def test_shown_cuts_long_lists_and_deep_nesting() -> None:
    deep: list[object] = []
    for _ in range(5000):  # past what repr() itself survives
        deep = [deep]
    assert shown(deep) == "[[[[...]]]]"
    assert shown(list(range(1000))) == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert len(shown({str(i): "v" * 100 for i in range(100)})) < 400


def test_a_public_text_defaults_to_the_message() -> None:
    error = InvalidRequestError("limit must be a whole number")
    assert error.public == error.message == "limit must be a whole number"
    assert InvalidRequestError("full", "short").public == "short"


def test_a_database_outage_tells_clients_no_host_and_no_driver() -> None:
    error = DatabaseUnavailableError(
        "the database is unavailable: (2003, \"Can't connect to MySQL server on '10.0.0.5'\")"
    )
    assert "10.0.0.5" in error.message  # for the log
    assert error.public == PUBLIC_DATABASE_UNAVAILABLE
    assert "10.0.0.5" not in error.public


def test_not_found_errors_quote_the_name_shortly() -> None:
    name = "m\n" + "x" * 10_000
    assert ModelNotFoundError(name, ["iris-lr"]).message == (
        f"model {shown(name)} not found; known models: iris-lr"
    )
    assert len(VersionNotFoundError("iris-lr", "9" * 5000, ["1"]).message) < 200
    assert ModelNotFoundError("nope", []).message == "model 'nope' not found; known models: none"
