"""Both storage backends honour the same contract: whole-or-nothing writes and the two
conditional primitives the ledger is built on. The blob backend runs against Azurite."""

from __future__ import annotations

import io
import uuid

import pytest

from shared.errors import AlreadyExistsError, ConcurrencyConflictError, ConfigError
from shared.storage import LocalStorage, ObjectStorage
from tests.helpers import IsolatedContainers


@pytest.fixture(params=["local", pytest.param("blob", marks=pytest.mark.azurite)])
def storage(request: pytest.FixtureRequest) -> ObjectStorage:
    """Each backend; blob tests get containers of their own (see blob_settings)."""
    if request.param == "local":
        return request.getfixturevalue("local_storage")
    return IsolatedContainers(request.getfixturevalue("blob_storage"), uuid.uuid4().hex[:8])


def test_write_then_read_returns_bytes_and_the_same_etag(storage: ObjectStorage) -> None:
    etag = storage.write("landing", "feedback/a.jsonl", b'{"a": 1}\n')
    assert storage.read("landing", "feedback/a.jsonl") == (b'{"a": 1}\n', etag)


def test_read_of_a_missing_object_is_none(storage: ObjectStorage) -> None:
    assert storage.read("landing", "nothing/here.json") is None
    assert storage.size("landing", "nothing/here.json") is None
    assert not storage.exists("landing", "nothing/here.json")


def test_create_if_absent_refuses_to_overwrite(storage: ObjectStorage) -> None:
    storage.write("ledger", "files/x.json", b"first", if_none_match=True)
    with pytest.raises(AlreadyExistsError):
        storage.write("ledger", "files/x.json", b"second", if_none_match=True)
    assert storage.read("ledger", "files/x.json")[0] == b"first"  # type: ignore[index]


def test_replace_if_unchanged_rejects_a_stale_etag(storage: ObjectStorage) -> None:
    first = storage.write("ledger", "shard.ids", b"v1")
    second = storage.write("ledger", "shard.ids", b"v2", if_match=first)
    assert second != first
    with pytest.raises(ConcurrencyConflictError):
        storage.write("ledger", "shard.ids", b"v3", if_match=first)
    assert storage.read("ledger", "shard.ids") == (b"v2", second)


def test_upload_stream_and_open_read_round_trip_large_data(storage: ObjectStorage) -> None:
    payload = bytes(range(256)) * 40_000  # 10 MiB: several blocks / chunks
    storage.upload_stream("inbox", "reviews/big.bin", io.BytesIO(payload))
    assert storage.size("inbox", "reviews/big.bin") == len(payload)
    with storage.open_read("inbox", "reviews/big.bin") as stream:
        assert stream.read(10) == payload[:10]
        assert stream.read() == payload[10:]


def test_list_yields_objects_under_a_prefix_in_order(storage: ObjectStorage) -> None:
    for name in ("b/2.txt", "a/1.txt", "b/1.txt"):
        storage.write("inbox", name, b"x")
    assert list(storage.list("inbox", "b/")) == ["b/1.txt", "b/2.txt"]
    assert list(storage.list("inbox")) == ["a/1.txt", "b/1.txt", "b/2.txt"]
    assert list(storage.list("empty-container")) == []


def test_delete_removes_and_tolerates_missing(storage: ObjectStorage) -> None:
    storage.write("inbox", "a.txt", b"x")
    storage.delete("inbox", "a.txt")
    storage.delete("inbox", "a.txt")
    assert not storage.exists("inbox", "a.txt")


def test_local_writes_leave_no_visible_temp_files(local_storage: LocalStorage) -> None:
    for i in range(5):
        local_storage.write("landing", f"feedback/{i}.jsonl", b"row\n")
    folder = local_storage.root / "landing" / "feedback"
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.jsonl" for i in range(5)]


@pytest.mark.parametrize("path", ["", "../escape", "a/../../b", "./x"])
def test_local_rejects_paths_outside_the_container(local_storage: LocalStorage, path: str) -> None:
    with pytest.raises(ConfigError):
        local_storage.write("landing", path, b"x")
