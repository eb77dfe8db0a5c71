"""Throw-away databases on every backend: SQLite, MariaDB and PostgreSQL.

Each backend makes databases of its own (``mp_test_<hex>``) and drops them when closed;
nothing else on the servers is touched. Shared by the database contract suite and the
end-to-end lifecycle tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from modelport.db import make_engine
from services import port_open, unavailable

__all__ = ["BACKENDS", "Server", "empty_database", "start_backend"]

MARIADB = ("127.0.0.1", 3306)
POSTGRES = ("127.0.0.1", 5432)
# A session time zone far from UTC, so that any conversion left to the server shows up.
PG_TIMEZONE = "Asia/Kolkata"
MYSQL_TIMEZONE = "+05:30"


class Server:
    """Makes empty databases on one backend and drops them all at the end."""

    backend = ""

    def create_database(self) -> str:
        raise NotImplementedError

    def engine(self, url: str) -> Engine:
        """An engine as modelport makes it, with a non-UTC session time zone."""
        return make_engine(url)

    def close(self) -> None:
        pass


class SqliteServer(Server):
    backend = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def create_database(self) -> str:
        return f"sqlite:///{self.folder / f'mp_test_{secrets.token_hex(6)}.db'}"


class _NetworkServer(Server):
    """A database server reached through an admin connection to the ``test`` database."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"mp_test_{secrets.token_hex(6)}"
        with self.admin.connect() as connection:
            connection.execute(text(self.create_sql(name)))
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create_sql(self, name: str) -> str:
        raise NotImplementedError

    def drop_sql(self, name: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(self.drop_sql(name)))
        self.admin.dispose()


class MariaDBServer(_NetworkServer):
    backend = "mariadb"

    def create_sql(self, name: str) -> str:
        return f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"

    def drop_sql(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`"

    def engine(self, url: str) -> Engine:
        init = f"SET time_zone = '{MYSQL_TIMEZONE}'"
        return make_engine(url, connect_args={"init_command": init})


class PostgresServer(_NetworkServer):
    backend = "postgresql"

    def create_sql(self, name: str) -> str:
        return f'CREATE DATABASE "{name}"'

    def drop_sql(self, name: str) -> str:
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'

    def engine(self, url: str) -> Engine:
        return make_engine(url, connect_args={"options": f"-c timezone={PG_TIMEZONE}"})


def _connect(service: str, address: tuple[str, int], urls: list[str]) -> str:
    """The first admin URL that works, or skip/fail with every reason."""
    if not port_open(*address):
        unavailable(service, f"nothing listens on {address[0]}:{address[1]}")
    reasons: list[str] = []
    for url in urls:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return url
        except OperationalError as exc:
            reasons.append(f"{make_url(url).username}: {str(exc.orig).strip()}")
        finally:
            engine.dispose()
    unavailable(service, "; ".join(reasons))


def start_backend(backend: str, tmp: pytest.TempPathFactory) -> Server:
    if backend == "sqlite":
        return SqliteServer(tmp.mktemp("sqlite"))
    if backend == "mariadb":
        url = _connect("MariaDB", MARIADB, ["mysql+pymysql://root@127.0.0.1:3306/test"])
        return MariaDBServer(url)
    urls = [f"postgresql+psycopg://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")]
    return PostgresServer(_connect("PostgreSQL", POSTGRES, urls))


def empty_database(backend: str, tmp: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an empty database of its own on ``backend``, dropped afterwards (a
    fixture's body: ``yield from empty_database(request.param, tmp_path_factory)``)."""
    server = start_backend(backend, tmp)
    try:
        yield server.create_database()
    finally:
        server.close()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.services),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
]
