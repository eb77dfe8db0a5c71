"""A model's rollout row: its traffic split and its shadow version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update

from modelport.db import models
from modelport.db.records import RolloutRecord
from modelport.db.tx import guarded, now, reading, retrying, writing

__all__ = ["get_rollouts", "set_rollout"]

_RO = models.rollouts.c


@guarded
def get_rollouts(engine: Engine, name: str | None = None) -> list[RolloutRecord]:
    """The rollout of ``name`` (None: of every model that has one)."""
    query = select(models.rollouts).order_by(_RO.name)
    if name is not None:
        query = query.where(_RO.name == name)
    with reading(engine) as connection:
        return [RolloutRecord(**row._asdict()) for row in connection.execute(query)]


@guarded
def set_rollout(
    engine: Engine, name: str, /, *, updated_by: str | None = None, **columns: Any
) -> RolloutRecord:
    """Change only the given columns (traffic, or shadow and shadow_sample_rate), so that
    a traffic change and a shadow change made at once both stay."""

    def change() -> RolloutRecord:
        values = {**columns, "updated_at": now(), "updated_by": updated_by}
        with writing(engine) as connection:
            changed = connection.execute(
                update(models.rollouts).where(_RO.name == name).values(**values)
            )
            if changed.rowcount == 0:
                connection.execute(insert(models.rollouts).values(name=name, **values))
            row = connection.execute(select(models.rollouts).where(_RO.name == name)).one()
            return RolloutRecord(**row._asdict())

    return retrying(change)
