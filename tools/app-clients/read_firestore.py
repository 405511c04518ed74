"""Reads one document with Google's Firestore client library (google-cloud-firestore), as the
apps read it, from the emulator that FIRESTORE_EMULATOR_HOST names, and prints it as JSON with
every value's Python type beside it: {"field": {"type": "DatetimeWithNanoseconds", "value": ...}}.
Timestamps print as RFC 3339 with nanoseconds; maps and arrays are typed all the way down.

It also runs the query an app runs on a date field (`where createdAt >= since`), which finds
the document only when that field is a Timestamp, and prints how many it found as "queried".

Usage: read_firestore.py PROJECT COLLECTION DOCUMENT_ID SINCE_RFC3339
"""

import datetime
import json
import sys

from google.cloud import firestore


def typed(v):
    kind = type(v).__name__
    if isinstance(v, dict):
        return {"type": kind, "value": {k: typed(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"type": kind, "value": [typed(x) for x in v]}
    if isinstance(v, datetime.datetime):
        # The stored nanoseconds: a DatetimeWithNanoseconds keeps them in its Timestamp.
        nanos = v.timestamp_pb().nanos if hasattr(v, "timestamp_pb") else v.microsecond * 1000
        text = v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"
        return {"type": kind, "value": text}
    return {"type": kind, "value": v}


def main(project, collection, doc_id, since):
    db = firestore.Client(project=project)
    snap = db.collection(collection).document(doc_id).get()
    if not snap.exists:
        print(json.dumps({"exists": False}))
        return
    since_at = datetime.datetime.fromisoformat(since.replace("Z", "+00:00"))
    query = db.collection(collection).where(filter=firestore.FieldFilter("createdAt", ">=", since_at))
    found = [d.id for d in query.stream()]
    print(json.dumps({"exists": True, "fields": {k: typed(v) for k, v in snap.to_dict().items()}, "queried": found}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
