#!/usr/bin/env python3
"""Make ``func start`` fire for a file dropped in Azurite: post its BlobCreated event.

The blob triggers use the Event Grid source (``source=EVENT_GRID``), so the host waits
for an Event Grid event; locally nothing sends one, and a dropped file triggers nothing.
This script plays Event Grid: it uploads a file (or reads an existing blob), builds the
``Microsoft.Storage.BlobCreated`` event Azure Storage would emit, and posts it to the
host's blob-extension webhook::

    http://localhost:7071/runtime/webhooks/blobs?functionName=Host.Functions.<name>

with ``aeg-event-type: Notification``, as an Event Grid subscription delivers it. The
extension reads ``data.url`` (container and blob name), ``data.eTag`` and
``data.blobType``, and queues the blob for the function (docs/operate.md, "Run the
Functions locally").

    # terminal 1: npx azurite --silent --skipApiVersionCheck --disableTelemetry
    # terminal 2: func start
    python scripts/post_blob_event.py samples/inbox/reviews/judgeme-reviews-2026-11-15.csv \\
        --blob reviews/judgeme-reviews-2026-11-15.csv            # -> ingest_blob
    python scripts/post_blob_event.py --existing exports/insights/demo.json \\
        --function route_insights                                # a blob already there
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)
DEFAULT_HOST = "http://localhost:7071"
# The blob-trigger functions of function_app.py and the container each watches.
FUNCTION_CONTAINERS = {"ingest_blob": "inbox", "route_insights": "exports"}
BLOB_TYPES = ("BlockBlob", "PageBlob", "AppendBlob")


def webhook_url(host: str, function_name: str) -> str:
    """The host's blob-extension webhook for one function (Event Grid's endpoint)."""
    return f"{host.rstrip('/')}/runtime/webhooks/blobs?functionName=Host.Functions.{function_name}"


def blob_created_event(
    blob_url: str,
    *,
    etag: str,
    content_length: int,
    content_type: str = "application/octet-stream",
    blob_type: str = "BlockBlob",
    event_time: datetime | None = None,
    account_resource_id: str = "/subscriptions/local/resourceGroups/local/providers/"
    "Microsoft.Storage/storageAccounts/devstoreaccount1",
) -> dict[str, Any]:
    """The Event Grid schema event Azure Storage emits when a block blob is committed."""
    container, name = split_blob_url(blob_url)
    return {
        "topic": account_resource_id,
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": (event_time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "id": str(uuid.uuid4()),
        "data": {
            "api": "PutBlob",
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "eTag": etag.strip('"'),
            "contentType": content_type,
            "contentLength": content_length,
            "blobType": blob_type,
            "url": blob_url,
            "sequencer": f"{int((event_time or datetime.now(UTC)).timestamp() * 1e6):032d}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def split_blob_url(url: str) -> tuple[str, str]:
    """(container, blob name) of a blob URL, as the extension's BlobUriBuilder reads it:
    path-style (Azurite, ``http://127.0.0.1:10000/<account>/<container>/<blob>``) or
    host-style (``https://<account>.blob.core.windows.net/<container>/<blob>``)."""
    parts = urlsplit(url)
    segments = parts.path.lstrip("/").split("/")
    host = parts.hostname or ""
    path_style = host in ("localhost", "host.docker.internal") or host.replace(".", "").isdigit()
    if path_style:
        segments = segments[1:]  # the first segment is the account
    if len(segments) < 2 or not segments[0] or not segments[-1]:
        raise ValueError(f"not a blob URL (container/blob): {url}")
    return segments[0], unquote("/".join(segments[1:]))


def check_event(event: dict[str, Any], function_name: str) -> None:
    """Refuse an event the blob extension would not turn into a trigger of the function."""
    if event.get("eventType") != "Microsoft.Storage.BlobCreated":
        raise ValueError("eventType must be Microsoft.Storage.BlobCreated")
    data = event.get("data")
    if not isinstance(data, dict):
        raise ValueError("the event has no data object")
    for key in ("url", "eTag", "blobType"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"data.{key} is missing")
    if data["blobType"] not in BLOB_TYPES:
        raise ValueError(f"data.blobType must be one of {BLOB_TYPES}")
    container, _ = split_blob_url(data["url"])
    expected = FUNCTION_CONTAINERS.get(function_name)
    if expected is None:
        raise ValueError(
            f"{function_name} is not a blob-trigger function: {sorted(FUNCTION_CONTAINERS)}"
        )
    if container != expected:
        raise ValueError(f"{function_name} watches the {expected!r} container, not {container!r}")


def post_event(host: str, function_name: str, event: dict[str, Any], timeout: float = 30.0) -> int:
    """POST the event as Event Grid delivers it; returns the HTTP status (202 expected)."""
    check_event(event, function_name)
    url = webhook_url(host, function_name)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the host must be an http(s) URL: {host}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps([event]).encode(),
        headers={"Content-Type": "application/json", "aeg-event-type": "Notification"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local host
        return response.status


def _blob(connection_string: str, container: str, name: str, upload: Path | None) -> Any:
    from azure.storage.blob import BlobServiceClient  # installed with the function app

    service = BlobServiceClient.from_connection_string(connection_string, api_version="2025-11-05")
    client = service.get_blob_client(container, name)
    if upload is not None:
        if not service.get_container_client(container).exists():
            service.create_container(container)
        with upload.open("rb") as handle:
            client.upload_blob(handle, overwrite=True)
    return client


def _host_storage() -> str:
    """AzureWebJobsStorage as the host reads it (``UseDevelopmentStorage=true``: Azurite)."""
    value = os.environ.get("AzureWebJobsStorage", AZURITE)  # noqa: SIM112 - the host's name
    return AZURITE if value.strip() == "UseDevelopmentStorage=true" else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, help="a local file to upload first")
    parser.add_argument("--blob", help="its name in the container (default: the file name)")
    parser.add_argument("--existing", help="post for a blob already there: <container>/<name>")
    parser.add_argument("--function", default="ingest_blob", choices=sorted(FUNCTION_CONTAINERS))
    parser.add_argument("--host", default=DEFAULT_HOST, help="the Functions host")
    parser.add_argument(
        "--connection-string",
        default=_host_storage(),
        help="the storage the trigger watches (default: Azurite)",
    )
    args = parser.parse_args(argv)
    if args.existing:
        container, _, name = args.existing.partition("/")
        client = _blob(args.connection_string, container, name, None)
    elif args.file:
        container = FUNCTION_CONTAINERS[args.function]
        client = _blob(args.connection_string, container, args.blob or args.file.name, args.file)
    else:
        parser.error("give a FILE to upload or --existing <container>/<name>")
    properties = client.get_blob_properties()
    url = client.url if "%" in client.url else quote(client.url, safe=":/")
    event = blob_created_event(
        url,
        etag=properties.etag,
        content_length=properties.size,
        content_type=properties.content_settings.content_type or "application/octet-stream",
        blob_type=str(getattr(properties.blob_type, "value", properties.blob_type)),
    )
    status = post_event(args.host, args.function, event)
    print(
        f"{args.function}: BlobCreated for {client.container_name}/{client.blob_name} -> {status}"
    )
    return 0 if status in (200, 202) else 1


if __name__ == "__main__":
    sys.exit(main())
