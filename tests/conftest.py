"""Shared fixtures: local storage per test, and one Azurite blob emulator per session."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.pipeline import IngestPipeline
from shared.settings import PROJECT_ROOT, Settings
from shared.storage import BlobStorage, LocalStorage

AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-blob"
# The well-known development account key Azurite ships with (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
SHARED_EVAL = PROJECT_ROOT.parent / "shared" / "eval"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # One enrichment process: tests that want worker processes ask for them.
    return Settings(local_storage_root=tmp_path / "storage", enrich_workers=1)


@pytest.fixture
def local_storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.local_storage_root)


@pytest.fixture
def pipeline(local_storage: LocalStorage, settings: Settings) -> IngestPipeline:
    return IngestPipeline(local_storage, settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite exited early with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"azurite did not listen on 127.0.0.1:{port} within {timeout}s")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start Azurite (blob) on a free loopback port; yield its connection string."""
    if not AZURITE_BIN.exists():
        pytest.fail("Azurite is not installed: run `make test` (it runs `npm ci`)")
    port = _free_port()
    workspace = tmp_path_factory.mktemp("azurite")
    log = open(workspace / "azurite.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [
            str(AZURITE_BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--extentMemoryLimit",
            "512",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workspace,
    )
    try:
        try:
            _wait_for_port(port, process)
        except RuntimeError as exc:
            log.flush()
            raise RuntimeError(f"{exc}: {(workspace / 'azurite.log').read_text()[-2000:]}") from exc
        yield (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def blob_settings(azurite: str, tmp_path: Path) -> Settings:
    """Settings for the blob backend with containers unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        storage_backend="blob",
        storage_connection_string=azurite,
        local_storage_root=tmp_path / "unused",
        inbox_container=f"inbox-{suffix}",
        landing_container=f"landing-{suffix}",
        quarantine_container=f"quarantine-{suffix}",
        ledger_container=f"ledger-{suffix}",
    )


@pytest.fixture
def blob_storage(blob_settings: Settings) -> BlobStorage:
    return BlobStorage.from_settings(blob_settings)


@pytest.fixture
def samples_dir() -> Path:
    return PROJECT_ROOT / "samples"
