"""Object storage behind one small interface: a local folder or Azure Blob Storage.

Both backends use the same container/path layout (``inbox``, ``landing``,
``quarantine``, ``ledger``, ``exports``) and the same two atomic primitives that the
idempotency ledger relies on: create-if-absent and replace-if-unchanged (ETag).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from shared.errors import (
    AlreadyExistsError,
    ConcurrencyConflictError,
    ConfigError,
    TransientError,
)

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobServiceClient

    from shared.settings import Settings

logger = logging.getLogger(__name__)


class ObjectStorage(Protocol):
    """What the pipeline needs from storage; paths use ``/`` inside a container."""

    def open_read(self, container: str, path: str) -> BinaryIO:
        """A streaming reader; never loads the whole object."""
        ...

    def size(self, container: str, path: str) -> int | None: ...

    def read(self, container: str, path: str) -> tuple[bytes, str] | None:
        """The whole (small) object and its ETag, or None when absent."""
        ...

    def write(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Write whole-or-nothing and return the new ETag.

        ``if_none_match`` creates only if absent (else AlreadyExistsError);
        ``if_match`` replaces only if unchanged (else ConcurrencyConflictError).
        """
        ...

    def upload_stream(self, container: str, path: str, stream: BinaryIO) -> None:
        """Copy a stream into an object with bounded memory, whole-or-nothing."""
        ...

    def exists(self, container: str, path: str) -> bool: ...

    def list(self, container: str, prefix: str = "") -> Iterator[str]: ...

    def delete(self, container: str, path: str) -> None: ...

    def describe(self, container: str, path: str) -> str:
        """A human-readable location (file path or URL) for messages."""
        ...


def _hidden_temp_name(final: Path) -> Path:
    # A leading dot hides in-progress files from Spark/Auto Loader listings.
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


class LocalStorage:
    """A folder per container under ``root``; the embedded default for laptops and tests.

    Commits are ``os.replace``/``os.link`` of a fully written hidden temp file, so a
    reader sees a whole file or none. ETags are inode+mtime+size: every commit writes
    a new inode. Conditional replace holds an ``fcntl`` lock (Linux/macOS).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, container: str, path: str) -> Path:
        if not container or "/" in container or container.startswith("."):
            raise ConfigError(f"invalid container name {container!r}")
        parts = [p for p in path.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ConfigError(f"invalid object path {path!r}")
        return self.root.joinpath(container, *parts)

    @staticmethod
    def _etag(stat: os.stat_result) -> str:
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"

    def open_read(self, container: str, path: str) -> BinaryIO:
        return open(self._path(container, path), "rb")

    def size(self, container: str, path: str) -> int | None:
        try:
            return self._path(container, path).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, container: str, path: str) -> tuple[bytes, str] | None:
        try:
            with open(self._path(container, path), "rb") as handle:
                # fstat on the open handle: the ETag matches exactly the bytes read.
                etag = self._etag(os.fstat(handle.fileno()))
                return handle.read(), etag
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _lock(self, final: Path) -> Iterator[None]:
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(final).encode()).hexdigest()[:32]
        with open(lock_dir / digest, "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def write(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        final = self._path(container, path)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = _hidden_temp_name(final)
        with open(temp, "wb") as handle:
            handle.write(data)
        try:
            return self._commit(temp, final, container, path, if_match, if_none_match)
        finally:
            temp.unlink(missing_ok=True)

    def _commit(
        self,
        temp: Path,
        final: Path,
        container: str,
        path: str,
        if_match: str | None,
        if_none_match: bool,
    ) -> str:
        if if_none_match:
            try:
                os.link(temp, final)  # atomic create-if-absent of a complete file
            except FileExistsError:
                raise AlreadyExistsError(container, path) from None
            return self._etag(final.stat())
        if if_match is None:
            os.replace(temp, final)
            return self._etag(final.stat())
        with self._lock(final):
            try:
                current = self._etag(final.stat())
            except FileNotFoundError:
                current = None
            if current != if_match:
                raise ConcurrencyConflictError(container, path)
            os.replace(temp, final)
            return self._etag(final.stat())

    def upload_stream(self, container: str, path: str, stream: BinaryIO) -> None:
        final = self._path(container, path)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = _hidden_temp_name(final)
        try:
            with open(temp, "wb") as handle:
                shutil.copyfileobj(stream, handle, 1024 * 1024)
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    def exists(self, container: str, path: str) -> bool:
        return self._path(container, path).is_file()

    def list(self, container: str, prefix: str = "") -> Iterator[str]:
        base = self.root / container
        # Walk only the folder the prefix names, not the whole container.
        folder = base.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else base
        if not folder.is_dir():
            return
        for file in sorted(folder.rglob("*")):
            rel = file.relative_to(base).as_posix()
            hidden = any(part.startswith(".") for part in rel.split("/"))
            if file.is_file() and not hidden and rel.startswith(prefix):
                yield rel

    def delete(self, container: str, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(container, path).unlink()

    def describe(self, container: str, path: str) -> str:
        return str(self.root.joinpath(container, *[p for p in path.split("/") if p]))


class ChunkReader(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (a blob download)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def open_blob(client: BlobClient) -> BinaryIO:
    """A buffered reader that streams a blob in chunks (memory bounded by a chunk)."""
    downloader = client.download_blob()
    return io.BufferedReader(ChunkReader(iter(downloader.chunks())), 1024 * 1024)  # type: ignore[return-value]


def _translate_azure_errors(func: Callable) -> Callable:
    """Map Azure SDK failures onto the project's hierarchy (transient vs conflict)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return func(*args, **kwargs)
        except (ResourceModifiedError, ResourceExistsError):
            raise
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TransientError(f"storage unreachable: {exc}") from exc
        except HttpResponseError as exc:
            if exc.status_code in (408, 429) or (exc.status_code or 0) >= 500:
                raise TransientError(f"storage busy or failing: {exc.status_code}") from exc
            raise

    return wrapper


class BlobStorage:
    """Azure Blob Storage / ADLS Gen2 through ``azure-storage-blob``.

    A blob upload becomes visible only when it is committed (Put Blob or Put Block
    List), so every write here is whole-or-nothing without a temp name.
    """

    def __init__(self, service: BlobServiceClient) -> None:
        self._service = service
        self._ready_containers: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobStorage:
        from azure.storage.blob import BlobServiceClient

        extra: dict = {"retry_total": settings.storage_retry_total}
        if settings.storage_api_version:
            extra["api_version"] = settings.storage_api_version
        if settings.storage_connection_string:
            service = BlobServiceClient.from_connection_string(
                settings.storage_connection_string, **extra
            )
        else:
            from azure.identity import DefaultAzureCredential

            # AZURE_CLIENT_ID selects the user-assigned managed identity in Azure.
            service = BlobServiceClient(
                settings.storage_account_url, credential=DefaultAzureCredential(), **extra
            )
        return cls(service)

    def _blob(self, container: str, path: str) -> BlobClient:
        return self._service.get_blob_client(container, path)

    def _ensure_container(self, container: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        if container in self._ready_containers:
            return
        with contextlib.suppress(ResourceExistsError):
            self._service.create_container(container)
        self._ready_containers.add(container)

    def _with_container(self, container: str, action: Callable[[], str]) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return action()
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) != "ContainerNotFound":
                raise
            self._ensure_container(container)
            return action()

    @_translate_azure_errors
    def open_read(self, container: str, path: str) -> BinaryIO:
        return open_blob(self._blob(container, path))

    @_translate_azure_errors
    def size(self, container: str, path: str) -> int | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._blob(container, path).get_blob_properties().size
        except ResourceNotFoundError:
            return None

    @_translate_azure_errors
    def read(self, container: str, path: str) -> tuple[bytes, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._blob(container, path).download_blob()
        except ResourceNotFoundError:
            return None
        return downloader.readall(), downloader.properties.etag

    @_translate_azure_errors
    def write(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        blob = self._blob(container, path)
        conditions: dict = {}
        if if_match is not None:
            conditions = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}

        def upload() -> str:
            result = blob.upload_blob(data, overwrite=not if_none_match, **conditions)
            return result["etag"]

        try:
            return self._with_container(container, upload)
        except ResourceExistsError:
            if if_none_match:
                raise AlreadyExistsError(container, path) from None
            raise ConcurrencyConflictError(container, path) from None
        except ResourceModifiedError:
            raise ConcurrencyConflictError(container, path) from None

    @_translate_azure_errors
    def upload_stream(self, container: str, path: str, stream: BinaryIO) -> None:
        # A stream cannot be replayed after a ContainerNotFound, so make sure first.
        self._ensure_container(container)
        self._blob(container, path).upload_blob(stream, overwrite=True, max_concurrency=2)

    @_translate_azure_errors
    def exists(self, container: str, path: str) -> bool:
        return self._blob(container, path).exists()

    def list(self, container: str, prefix: str = "") -> Iterator[str]:
        from azure.core.exceptions import ResourceNotFoundError

        client = self._service.get_container_client(container)
        try:
            yield from (blob.name for blob in client.list_blobs(name_starts_with=prefix or None))
        except ResourceNotFoundError:
            return

    @_translate_azure_errors
    def delete(self, container: str, path: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self._blob(container, path).delete_blob()

    def describe(self, container: str, path: str) -> str:
        return f"{self._service.url.rstrip('/')}/{container}/{path}"


def storage_from_settings(settings: Settings) -> ObjectStorage:
    """The configured backend: ``local`` (default) or ``blob``."""
    if settings.storage_backend == "blob":
        return BlobStorage.from_settings(settings)
    return LocalStorage(settings.local_storage_root)


__all__ = [
    "BlobStorage",
    "ChunkReader",
    "LocalStorage",
    "ObjectStorage",
    "open_blob",
    "storage_from_settings",
]
