"""The embedded registry: folders and JSON files under one root (default var/registry).

    <root>/<group>/index.json          GroupIndex: every version, status, metrics, lineage
    <root>/<group>/<version>/          a copy of the artifact
    <root>/deployment.json             DeploymentState: current + history (for rollback)
    <root>/.lock                       fcntl lock held while reading-modifying-writing

JSON files are written to a temp file and renamed, so a reader never sees half a file;
the lock makes concurrent `kkot models ...` commands safe.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from services.model.artifact import copy_artifact, staged_artifact, write_record
from services.pipeline.errors import RegistryError
from services.pipeline.registry.records import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentState,
    GroupIndex,
    Lineage,
    ModelVersion,
)
from shared.contracts.model import METADATA_FILE, MODEL_FILE, ModelMetadata
from shared.files import atomic_write

__all__ = ["LocalRegistry", "deployed_model_dir"]

INDEX_FILE = "index.json"
DEPLOYMENT_FILE = "deployment.json"
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's pattern


def deployed_model_dir(registry_root: Path) -> Path | None:
    """The artifact folder of the deployed version, or None if nothing is deployed.

    `kkot run` calls this at start so a restart serves what was last deployed.
    """
    path = Path(registry_root) / DEPLOYMENT_FILE
    if not path.exists():
        return None
    state = DeploymentState.model_validate_json(path.read_bytes())
    if state.current is None:
        return None
    model_dir = Path(state.current.model_dir)
    return model_dir if (model_dir / MODEL_FILE).exists() else None


class LocalRegistry:
    """`ModelRegistry` on the local file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    # -- groups and versions ---------------------------------------------------------

    def create_group(self, group: str, description: str = "") -> None:
        _check_group(group)
        with self._locked():
            if not self._index_path(group).exists():
                index = GroupIndex(group=group, description=description)
                self._write(self._index_path(group), index)

    def register(
        self,
        group: str,
        artifact_dir: Path,
        *,
        status: ApprovalStatus,
        metrics: dict[str, float],
        lineage: Lineage,
        status_reason: str | None = None,
    ) -> ModelVersion:
        _check_group(group)
        artifact_dir = Path(artifact_dir)
        if not (artifact_dir / MODEL_FILE).exists():
            raise RegistryError(f"{artifact_dir} is not a model artifact (no {MODEL_FILE})")
        with self._locked():
            index = self._read_index(group, create=True)
            version = max((v.version for v in index.versions), default=0) + 1
            metadata = ModelMetadata.model_validate_json(
                (artifact_dir / METADATA_FILE).read_bytes()
            )
            # The served metadata names the registry's group and version.
            stamped = metadata.model_copy(update={"name": group, "version": str(version)})
            with staged_artifact(self.root / group / str(version)) as staging:
                copy_artifact(artifact_dir, staging, skip={METADATA_FILE})
                write_record(staging, METADATA_FILE, stamped)
            model = ModelVersion(
                group=group,
                version=version,
                status=status,
                status_reason=status_reason,
                metrics=metrics,
                lineage=lineage,
                model_dir=f"{group}/{version}",
            )
            self._write(
                self._index_path(group),
                index.model_copy(update={"versions": [*index.versions, model]}),
            )
            return model

    def set_status(
        self, group: str, version: int, status: ApprovalStatus, reason: str | None = None
    ) -> ModelVersion:
        with self._locked():
            index = self._read_index(group)
            current = _find(index, version)
            state = self._read_deployment()
            if (
                status == ApprovalStatus.REJECTED
                and state.current is not None
                and (state.current.group, state.current.version) == (group, version)
            ):
                raise RegistryError(
                    f"{group} version {version} is deployed; deploy or roll back to another "
                    "version before rejecting it"
                )
            updated = current.model_copy(
                update={
                    "status": status,
                    "status_reason": reason,
                    "updated_at": datetime.now(UTC),
                }
            )
            versions = [updated if v.version == version else v for v in index.versions]
            self._write(self._index_path(group), index.model_copy(update={"versions": versions}))
            return updated

    def list_versions(self, group: str | None = None) -> list[ModelVersion]:
        groups = [group] if group else self.groups()
        result: list[ModelVersion] = []
        for name in groups:
            if self._index_path(name).exists():
                result.extend(self._read_index(name).versions)
        return result

    def groups(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{INDEX_FILE}"))

    def get_version(self, group: str, version: int) -> ModelVersion:
        return _find(self._read_index(group), version)

    def latest(self, group: str, status: ApprovalStatus | None = None) -> ModelVersion | None:
        versions = [v for v in self.list_versions(group) if status is None or v.status == status]
        return versions[-1] if versions else None

    def artifact_dir(self, model: ModelVersion) -> Path:
        return self.root / model.model_dir

    def artifact_location(self, model: ModelVersion) -> str:
        return str(self.artifact_dir(model))

    # -- deployment --------------------------------------------------------------------

    def deployment(self) -> DeploymentState:
        return self._read_deployment()

    def record_deployment(self, model: ModelVersion) -> DeploymentRecord:
        record = DeploymentRecord(
            group=model.group, version=model.version, model_dir=str(self.artifact_dir(model))
        )
        with self._locked():
            state = self._read_deployment()
            history = list(state.history)
            if state.current is not None and (state.current.group, state.current.version) != (
                model.group,
                model.version,
            ):
                history.append(state.current)
            self._write(
                self.root / DEPLOYMENT_FILE,
                DeploymentState(current=record, history=history[-20:]),
            )
        return record

    def record_rollback(self) -> DeploymentRecord:
        with self._locked():
            state = self._read_deployment()
            if not state.history:
                raise RegistryError("no previous deployment to roll back to")
            previous = state.history[-1]
            restored = previous.model_copy(update={"deployed_at": datetime.now(UTC)})
            self._write(
                self.root / DEPLOYMENT_FILE,
                DeploymentState(current=restored, history=state.history[:-1]),
            )
            return restored

    def previous_deployment(self) -> DeploymentRecord | None:
        state = self._read_deployment()
        return state.history[-1] if state.history else None

    # -- files -------------------------------------------------------------------------

    def _index_path(self, group: str) -> Path:
        return self.root / group / INDEX_FILE

    def _read_index(self, group: str, *, create: bool = False) -> GroupIndex:
        path = self._index_path(group)
        if not path.exists():
            if create:
                return GroupIndex(group=group)
            raise RegistryError(f"no model group {group!r} in {self.root}")
        return GroupIndex.model_validate_json(path.read_bytes())

    def _read_deployment(self) -> DeploymentState:
        path = self.root / DEPLOYMENT_FILE
        if not path.exists():
            return DeploymentState()
        return DeploymentState.model_validate_json(path.read_bytes())

    def _write(self, path: Path, record: BaseModel) -> None:
        atomic_write(path, record.model_dump_json(indent=2).encode("utf-8"))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _find(index: GroupIndex, version: int) -> ModelVersion:
    for model in index.versions:
        if model.version == version:
            return model
    known = ", ".join(str(v.version) for v in index.versions) or "none"
    raise RegistryError(f"{index.group} has no version {version} (versions: {known})")


def _check_group(group: str) -> None:
    if not _GROUP_NAME.match(group):
        raise RegistryError(
            f"invalid model group name {group!r}: letters, digits and hyphens, up to 63"
        )
