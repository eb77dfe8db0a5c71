"""Typed access to what the app factory put on ``app.state`` (no module globals)."""

from __future__ import annotations

from starlette.requests import Request

from modelport.config import Settings
from modelport.db.database import Database
from modelport.inference import InferenceService
from modelport.management.actions import ModelManager
from modelport.registry import ModelRegistry

__all__ = ["database_of", "inference_of", "manager_of", "registry_of", "settings_of"]


def registry_of(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.registry
    return registry


def inference_of(request: Request) -> InferenceService:
    service: InferenceService = request.app.state.inference
    return service


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def manager_of(request: Request) -> ModelManager:
    manager: ModelManager = request.app.state.manager
    return manager


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database
