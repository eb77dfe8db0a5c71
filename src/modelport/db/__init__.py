"""The database: engine per backend, tables, Alembic migrations and typed store functions.

Start-up: ``engine = make_engine(url); migrate(engine)``; then call ``modelport.db.store``.
"""

from modelport.db.engine import default_sqlite_url, make_engine
from modelport.db.migrate import migrate

__all__ = ["default_sqlite_url", "make_engine", "migrate"]
