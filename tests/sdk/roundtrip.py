"""The official Azure SDK for Python as a second client of the handler's storage.

    roundtrip.py read  '<json>'   reads what the handler wrote, prints what it found as JSON
    roundtrip.py write '<json>'   writes a record and a file in the handler's layout

The JSON names the connection string, the tables, the container, the user id and the items.
The layout is the README's ("Storage layout"): records PK = user id, RK = record id; the
profile PK = user id, RK = "profile"; files are blobs "<user id>/<name>" with metadata sha256.
"""

import hashlib
import json
import sys
import uuid
from datetime import datetime, timezone

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ContentSettings

# The newest blob API version the pinned Azurite (package.json) knows; the SDK's own default
# is newer, and stock Azurite refuses versions it does not know.
BLOB_API_VERSION = "2026-06-06"


def read(args):
    tables = TableServiceClient.from_connection_string(args["connection"])
    blobs = BlobServiceClient.from_connection_string(
        args["connection"], api_version=BLOB_API_VERSION
    )
    user = args["user_id"]
    record = tables.get_table_client(args["records_table"]).get_entity(
        partition_key=user, row_key=args["record_id"]
    )
    profile = tables.get_table_client(args["users_table"]).get_entity(
        partition_key=user, row_key="profile"
    )
    blob = blobs.get_blob_client(args["container"], f"{user}/{args['file_name']}")
    properties = blob.get_blob_properties()
    content = blob.download_blob().readall()
    return {
        "record": {
            "name": record["name"],
            "price": int(record["price"]),
            "createdAt": record["createdAt"],
        },
        "username": profile["username"],
        "has_password_hash": "passwordHash" in profile,
        "file": {
            "content": content.decode(),
            "content_type": properties.content_settings.content_type,
            "sha256": properties.metadata.get("sha256"),
            "sha256_matches": properties.metadata.get("sha256")
            == hashlib.sha256(content).hexdigest(),
        },
    }


def write(args):
    tables = TableServiceClient.from_connection_string(args["connection"])
    blobs = BlobServiceClient.from_connection_string(
        args["connection"], api_version=BLOB_API_VERSION
    )
    user = args["user_id"]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    record_id = str(uuid.uuid4())
    tables.get_table_client(args["records_table"]).create_entity(
        {
            "PartitionKey": user,
            "RowKey": record_id,
            "name": args["record_name"],
            "price": args["record_price"],
            "createdAt": now,
            "updatedAt": now,
        }
    )
    content = args["file_content"].encode()
    blobs.get_blob_client(args["container"], f"{user}/{args['file_name']}").upload_blob(
        content,
        content_settings=ContentSettings(content_type="text/plain"),
        metadata={"sha256": hashlib.sha256(content).hexdigest()},
        overwrite=True,
    )
    return {"record_id": record_id}


if __name__ == "__main__":
    command, payload = sys.argv[1], json.loads(sys.argv[2])
    result = {"read": read, "write": write}[command](payload)
    print(json.dumps(result))
