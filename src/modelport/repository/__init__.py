"""The model files on disk: layout, model.yaml, and scanning the repository."""

from modelport.repository.model_yaml import (
    BatchingConfig,
    FeatureSpec,
    ModelConfig,
    read_model_yaml,
)
from modelport.repository.scan import (
    ModelSource,
    VersionSource,
    scan_repository,
    validate_model_name,
)
from modelport.repository.writer import new_version_folder, write_file_atomically

__all__ = [
    "BatchingConfig",
    "FeatureSpec",
    "ModelConfig",
    "ModelSource",
    "VersionSource",
    "new_version_folder",
    "read_model_yaml",
    "scan_repository",
    "validate_model_name",
    "write_file_atomically",
]
