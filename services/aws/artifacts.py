"""What a stage's models bucket must hold: the model artifact and the training data.

- The model artifact is `model.tar.gz`, the files of a model folder at the archive's
  root (SageMaker unpacks it into /opt/ml/model). It is packed deterministically (sorted
  names, zero times and owners), so the same folder always gives the same bytes and
  the same key, `models/<name>/<digest>/model.tar.gz`: a re-run uploads nothing.
- The training data goes to `datasets/flowers/train/` and `datasets/flowers/validation/`,
  the two channels of the SageMaker pipeline (cfn/sagemaker_pipeline.py), one folder per
  class under each. A folder that already has `train/` and `validation/` is uploaded as
  it is; a plain image folder is split by the training job's own rule
  (services.model.train.dataset.split_dataset, seeded and stratified). A manifest
  (`datasets/flowers/manifest.json`, key -> sha256) makes a re-run upload only what
  changed and remove what is gone.

Every object is written with SSE-KMS under the stage's data key, the key the stage's
SageMaker roles may use.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.aws.errors import AwsCommandError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DATASET_PREFIX",
    "ModelArtifact",
    "SyncResult",
    "dataset_files",
    "kms_arguments",
    "object_exists",
    "pack_model",
    "sync_dataset",
    "upload_model",
]

# The channels' default S3 prefixes in cfn/sagemaker_pipeline.py (TrainDataUrl,
# ValidationDataUrl) live under this prefix of the models bucket.
DATASET_PREFIX = "datasets/flowers/"
CHANNELS = ("train", "validation")
MANIFEST = DATASET_PREFIX + "manifest.json"
MODEL_FILE = "model.tar.gz"
REQUIRED_MODEL_FILES = ("metadata.json", "model.onnx")
METADATA_VERSION = "kkot-model-version"
UPLOAD_THREADS = 8


@dataclass(frozen=True)
class ModelArtifact:
    """A packed model folder: its bytes, digest and version (from metadata.json)."""

    data: bytes
    sha256: str
    name: str
    version: str

    @property
    def key(self) -> str:
        """Where it lives in a models bucket; the digest makes the key content-addressed."""
        return f"models/{self.name}/{self.sha256[:16]}/{MODEL_FILE}"


@dataclass(frozen=True)
class SyncResult:
    """What `sync_dataset` did."""

    uploaded: int
    unchanged: int
    removed: int

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.removed)


def kms_arguments(key_arn: str) -> dict[str, str]:
    """Put/Copy arguments that encrypt an object under `key_arn`."""
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}


def object_exists(s3: S3Client, bucket: str, key: str) -> bool:
    """Whether s3://bucket/key exists."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def pack_model(model_dir: Path) -> ModelArtifact:
    """`model_dir` as SageMaker's model.tar.gz, byte-identical for identical files."""
    from shared.contracts.model import ModelMetadata

    missing = [name for name in REQUIRED_MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise AwsCommandError(
            f"{model_dir} is not a model folder (missing {', '.join(missing)}); "
            "build the default one with `make model`"
        )
    metadata = ModelMetadata.model_validate_json((model_dir / "metadata.json").read_bytes())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(model_dir).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    data = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    return ModelArtifact(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        name=metadata.name,
        version=metadata.version,
    )


def upload_model(s3: S3Client, bucket: str, key_arn: str, artifact: ModelArtifact) -> bool:
    """Put the artifact at its key unless it is there already; True when uploaded."""
    if object_exists(s3, bucket, artifact.key):
        return False
    s3.put_object(
        Bucket=bucket,
        Key=artifact.key,
        Body=artifact.data,
        ContentType="application/gzip",
        Metadata={METADATA_VERSION: f"{artifact.name} {artifact.version}"},
        **kms_arguments(key_arn),  # type: ignore[arg-type]
    )
    return True


def dataset_files(data_dir: Path) -> dict[str, Path]:
    """Object key (under DATASET_PREFIX) -> local file, split into the two channels."""
    if all((data_dir / channel).is_dir() for channel in CHANNELS):
        return {
            f"{channel}/{path.relative_to(data_dir / channel).as_posix()}": path
            for channel in CHANNELS
            for path in _files(data_dir / channel)
        }
    from services.model.train.api import Example, Hyperparameters, split_dataset

    examples = [
        Example(
            path=path,
            relpath=path.relative_to(data_dir).as_posix(),
            label=path.relative_to(data_dir).parts[0],
            sha256=_sha256(path),
        )
        for path in _files(data_dir)
        if len(path.relative_to(data_dir).parts) > 1
    ]
    labels = {example.label for example in examples}
    if len(labels) < 2:
        raise AwsCommandError(f"{data_dir}: expected one folder per class (two at least)")
    defaults = Hyperparameters()
    split = split_dataset(
        examples, fraction=defaults.validation_fraction, seed=defaults.seed, cv_folds=0
    )
    files = {f"train/{ex.relpath}": ex.path for ex in split.train}
    files.update({f"validation/{ex.relpath}": ex.path for ex in split.evaluation})
    return files


def sync_dataset(s3: S3Client, bucket: str, key_arn: str, data_dir: Path) -> SyncResult:
    """Make `datasets/flowers/` of the bucket hold exactly the files of `data_dir`."""
    if not data_dir.is_dir():
        raise AwsCommandError(f"training data folder {data_dir} does not exist")
    files = dataset_files(data_dir)
    wanted = {key: _sha256(path) for key, path in files.items()}
    previous = _read_manifest(s3, bucket)
    changed = [key for key, digest in wanted.items() if previous.get(key) != digest]

    def put(key: str) -> None:
        s3.put_object(
            Bucket=bucket,
            Key=DATASET_PREFIX + key,
            Body=files[key].read_bytes(),
            **kms_arguments(key_arn),  # type: ignore[arg-type]
        )

    # Thousands of small images: a few requests in flight instead of one at a time
    # (boto3 clients are thread-safe). list() re-raises the first failure.
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        list(pool.map(put, changed))
    gone = sorted(set(previous) - set(wanted))
    for start in range(0, len(gone), 1000):
        batch = gone[start : start + 1000]
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": DATASET_PREFIX + key} for key in batch], "Quiet": True},
        )
    if changed or gone:
        s3.put_object(
            Bucket=bucket,
            Key=MANIFEST,
            Body=json.dumps({"files": wanted}, sort_keys=True, indent=1).encode(),
            ContentType="application/json",
            **kms_arguments(key_arn),  # type: ignore[arg-type]
        )
    return SyncResult(
        uploaded=len(changed), unchanged=len(wanted) - len(changed), removed=len(gone)
    )


def _read_manifest(s3: S3Client, bucket: str) -> dict[str, str]:
    try:
        body = s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return {}
        raise
    files: Any = json.loads(body).get("files", {})
    return {str(k): str(v) for k, v in files.items()}


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(
            part.startswith(".") for part in path.relative_to(root).parts
        ):
            yield path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
