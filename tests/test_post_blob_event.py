"""scripts/post_blob_event.py: the BlobCreated event that makes ``func start`` fire locally.

Core Tools cannot run here, so the tests check the event against what the host's blob
extension reads (eventType, ``data.url`` -> container and blob, ``data.eTag``,
``data.blobType``; the ``aeg-event-type: Notification`` header; the
``functionName=Host.Functions.<name>`` query) and against the app's own trigger bindings,
then post it over real HTTP to a loopback server standing in for the host.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.ingest.inbox import split_inbox_path
from shared.settings import PROJECT_ROOT, Settings
from tests.loopback import LoopbackServer

AZURITE_BLOB = "http://127.0.0.1:10000/devstoreaccount1"
INBOX = f"{AZURITE_BLOB}/inbox"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    path = PROJECT_ROOT / "scripts" / "post_blob_event.py"
    spec = importlib.util.spec_from_file_location("post_blob_event", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeHost(LoopbackServer):
    """The Functions host's webhook: records each request and answers 202, as it does."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                host.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def fake_host() -> Iterator[FakeHost]:
    server = FakeHost().start()
    yield server
    server.stop()


def test_the_event_carries_what_the_blob_extension_reads(script: ModuleType) -> None:
    url = f"{AZURITE_BLOB}/inbox/reviews/judgeme%20export.csv"
    event = script.blob_created_event(url, etag='"0x8DC70D257E6452E"', content_length=1234)
    assert event["eventType"] == "Microsoft.Storage.BlobCreated"
    assert (
        event["subject"]
        == "/blobServices/default/containers/inbox/blobs/reviews/judgeme export.csv"
    )
    data = event["data"]
    # BlobTriggerMessage: ETag (quoted by the extension itself), BlobType minus "Blob", URL.
    assert data["eTag"] == "0x8DC70D257E6452E"
    assert data["blobType"] == "BlockBlob" and data["url"] == url
    assert data["contentLength"] == 1234
    container, name = script.split_blob_url(url)
    assert (container, name) == ("inbox", "reviews/judgeme export.csv")
    assert split_inbox_path(name) == ("reviews", "judgeme export.csv")
    script.check_event(event, "ingest_blob")


def test_host_style_urls_split_like_path_style_ones(script: ModuleType) -> None:
    url = "https://acct.blob.core.windows.net/exports/insights/demo.json"
    assert script.split_blob_url(url) == ("exports", "insights/demo.json")
    assert script.split_blob_url(f"{AZURITE_BLOB}/exports/insights/demo.json") == (
        "exports",
        "insights/demo.json",
    )


def test_the_script_knows_every_blob_trigger_of_the_app_and_its_container() -> None:
    from tests.helpers import registered_functions

    settings = Settings()
    containers = {"%INSIGHTLOOP_INBOX_CONTAINER%": settings.inbox_container}
    containers["%INSIGHTLOOP_EXPORTS_CONTAINER%"] = settings.exports_container
    found = {}
    for function in registered_functions().values():
        for binding in function.get_bindings():
            info = binding.get_dict_repr()
            if info["type"] == "blobTrigger":
                assert info["source"] == "EventGrid"  # why a dropped file needs an event
                setting = info["path"].split("/")[0]
                found[function.get_function_name()] = containers[setting]
    spec = importlib.util.spec_from_file_location(
        "post_blob_event_app", PROJECT_ROOT / "scripts" / "post_blob_event.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert found == module.FUNCTION_CONTAINERS


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"eventType": "Microsoft.Storage.BlobDeleted"}, "eventType"),
        ({"data": {"url": f"{AZURITE_BLOB}/inbox/a/b.csv", "blobType": "BlockBlob"}}, "eTag"),
        (
            {
                "data": {
                    "url": f"{AZURITE_BLOB}/landing/a/b.csv",
                    "eTag": "x",
                    "blobType": "BlockBlob",
                }
            },
            "watches",
        ),
        (
            {"data": {"url": f"{AZURITE_BLOB}/inbox/a/b.csv", "eTag": "x", "blobType": "Block"}},
            "blobType",
        ),
    ],
)
def test_an_event_the_trigger_would_not_take_is_refused(
    script: ModuleType, change: dict, error: str
) -> None:
    event = script.blob_created_event(f"{AZURITE_BLOB}/inbox/a/b.csv", etag="x", content_length=1)
    with pytest.raises(ValueError, match=error):
        script.check_event({**event, **change}, "ingest_blob")


def test_the_event_is_posted_as_event_grid_delivers_it(
    script: ModuleType, fake_host: FakeHost
) -> None:
    event = script.blob_created_event(
        f"{AZURITE_BLOB}/exports/insights/demo.json", etag="0x1", content_length=10
    )
    assert script.post_event(fake_host.url, "route_insights", event) == 202
    (request,) = fake_host.requests
    target = urlsplit(request["path"])
    assert target.path == "/runtime/webhooks/blobs"
    assert parse_qs(target.query) == {"functionName": ["Host.Functions.route_insights"]}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["aeg-event-type"] == "Notification"
    assert request["body"] == [event]  # Event Grid delivers an array


def test_main_uploads_to_azurite_and_posts_the_blobs_real_etag(
    script: ModuleType, fake_host: FakeHost, azurite: str, tmp_path: Path
) -> None:
    from azure.storage.blob import BlobServiceClient

    export = tmp_path / "reviews.csv"
    export.write_text("title,body\nGood,Nice kit\n")
    argv = [str(export), "--blob", "reviews/r.csv", "--host", fake_host.url]
    assert script.main([*argv, "--connection-string", azurite]) == 0
    (request,) = fake_host.requests
    (event,) = request["body"]
    blob = BlobServiceClient.from_connection_string(azurite, api_version="2025-11-05")
    properties = blob.get_blob_client("inbox", "reviews/r.csv").get_blob_properties()
    assert event["data"]["eTag"] == properties.etag.strip('"')
    assert event["data"]["contentLength"] == export.stat().st_size
    assert script.split_blob_url(event["data"]["url"]) == ("inbox", "reviews/r.csv")
