#!/bin/sh
# azd postdeploy hook: subscribes the Event Grid blob triggers (Flex Consumption's blob source)
# to the data account's system topic. It runs after `azd deploy` because the webhook URL carries
# the app's blobs_extension system key, which exists only once the host has indexed a blob
# trigger. Idempotent: each subscription is PUT whole, so a rerun converges.
set -eu

value() {
  azd env get-value "$1" 2>/dev/null || true
}

RESOURCE_GROUP=$(value AZURE_RESOURCE_GROUP)
APP_NAME=$(value AZURE_FUNCTION_APP_NAME)
APP_URI=$(value SERVICE_FUNCTIONS_URI)
TOPIC_ID=$(value EVENTGRID_SYSTEM_TOPIC_ID)
STORAGE_ID=$(value AZURE_STORAGE_ACCOUNT_ID)
DEAD_LETTER_CONTAINER=$(value EVENTGRID_DEAD_LETTER_CONTAINER)
INBOX_CONTAINER=$(value INSIGHTLOOP_INBOX_CONTAINER)
EXPORTS_CONTAINER=$(value INSIGHTLOOP_EXPORTS_CONTAINER)

for name in RESOURCE_GROUP APP_NAME APP_URI TOPIC_ID STORAGE_ID DEAD_LETTER_CONTAINER \
  INBOX_CONTAINER EXPORTS_CONTAINER; do
  eval "current=\${$name}"
  if [ -z "$current" ]; then
    echo "postdeploy: $name is not in the azd environment; run 'azd provision' first" >&2
    exit 1
  fi
done

# The key appears a little after the first deployment: poll for up to five minutes.
key=""
attempt=0
while [ -z "$key" ] && [ "$attempt" -lt 20 ]; do
  key=$(az functionapp keys list --resource-group "$RESOURCE_GROUP" --name "$APP_NAME" \
    --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)
  if [ -z "$key" ]; then
    attempt=$((attempt + 1))
    echo "postdeploy: waiting for the blobs_extension key ($attempt/20)"
    sleep 15
  fi
done
if [ -z "$key" ]; then
  echo "postdeploy: no blobs_extension key on $APP_NAME; is a blob trigger deployed?" >&2
  exit 1
fi

arm=$(az cloud show --query endpoints.resourceManager --output tsv)
arm=${arm%/}
api_version="2025-02-15"

# The body holds the key: keep it in a private temporary file, never on a command line.
umask 077
body=$(mktemp)
trap 'rm -f "$body"' EXIT INT TERM

# subscribe NAME FUNCTION SUBJECT_PREFIX
subscribe() {
  name=$1
  function=$2
  prefix=$3
  # BlobCreated only (the extension reads data.url and data.blobType); data.api keeps out the
  # empty CreateFile event an ADLS Gen2 write raises before its FlushWithClose.
  cat >"$body" <<JSON
{
  "properties": {
    "destination": {
      "endpointType": "WebHook",
      "properties": {
        "endpointUrl": "${APP_URI}/runtime/webhooks/blobs?functionName=Host.Functions.${function}&code=${key}"
      }
    },
    "filter": {
      "includedEventTypes": ["Microsoft.Storage.BlobCreated"],
      "subjectBeginsWith": "${prefix}",
      "advancedFilters": [
        {
          "operatorType": "StringIn",
          "key": "data.api",
          "values": ["PutBlob", "PutBlockList", "FlushWithClose", "CopyBlob"]
        }
      ]
    },
    "eventDeliverySchema": "EventGridSchema",
    "retryPolicy": {
      "maxDeliveryAttempts": 30,
      "eventTimeToLiveInMinutes": 1440
    },
    "deadLetterWithResourceIdentity": {
      "identity": {
        "type": "SystemAssigned"
      },
      "deadLetterDestination": {
        "endpointType": "StorageBlob",
        "properties": {
          "resourceId": "${STORAGE_ID}",
          "blobContainerName": "${DEAD_LETTER_CONTAINER}"
        }
      }
    }
  }
}
JSON
  az rest --method put \
    --url "${arm}${TOPIC_ID}/eventSubscriptions/${name}?api-version=${api_version}" \
    --body "@${body}" --output none
  echo "postdeploy: Event Grid subscription '$name' -> $function ($prefix)"
}

subscribe ingestblob ingest_blob "/blobServices/default/containers/${INBOX_CONTAINER}/blobs/"
subscribe routeinsights route_insights \
  "/blobServices/default/containers/${EXPORTS_CONTAINER}/blobs/insights/"
