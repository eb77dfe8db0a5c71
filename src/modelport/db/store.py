"""The store: typed functions over the database, one import for the rest of modelport.

Every function takes the Engine first, runs its own transaction and returns frozen
dataclasses (``records.py``). Datetimes in and out are timezone-aware UTC.
"""

from __future__ import annotations

from modelport.db.audit import add_audit, audit_after, last_audit_id, list_audit
from modelport.db.prediction_rows import RowMaker, insert_prepared, row_maker
from modelport.db.predictions import insert_predictions, list_predictions, prune_predictions
from modelport.db.records import (
    AliasRecord,
    AuditRecord,
    NewPrediction,
    PredictionRecord,
    RolloutRecord,
    TokenInfo,
    VersionRecord,
    VersionState,
)
from modelport.db.rollouts import get_rollouts, set_rollout
from modelport.db.tokens import create_token, list_tokens, revoke_token, verify_token
from modelport.db.versions import (
    LATEST,
    abandon_pending,
    check_alias,
    delete_alias,
    delete_version,
    discard_version,
    get_aliases,
    get_version,
    list_model_names,
    list_versions,
    next_version_number,
    record_version,
    resolve_alias,
    set_alias,
    set_version_state,
    settle_pending,
)

__all__ = [
    "LATEST",
    "AliasRecord",
    "AuditRecord",
    "NewPrediction",
    "PredictionRecord",
    "RolloutRecord",
    "RowMaker",
    "TokenInfo",
    "VersionRecord",
    "VersionState",
    "abandon_pending",
    "add_audit",
    "audit_after",
    "check_alias",
    "create_token",
    "delete_alias",
    "delete_version",
    "discard_version",
    "get_aliases",
    "get_rollouts",
    "get_version",
    "insert_predictions",
    "insert_prepared",
    "last_audit_id",
    "list_audit",
    "list_model_names",
    "list_predictions",
    "list_tokens",
    "list_versions",
    "next_version_number",
    "prune_predictions",
    "record_version",
    "resolve_alias",
    "revoke_token",
    "row_maker",
    "set_alias",
    "set_rollout",
    "set_version_state",
    "settle_pending",
    "verify_token",
]
