"""Schemathesis hooks for scripts/schemathesis.sh: schema-valid bodies that refer to other rows
(a client's ISP, city and splitters, a ticket's client, a user's area, an assignment's FOC) name
rows that exist, which scripts/schemathesis.sh creates first and passes in CGS_ST_* variables, as
schemathesis' "supply the identifiers" advice says for path parameters. One fuzzed body in ten
keeps what was generated, so the answers to unknown references are fuzzed too. Two rules a schema
cannot state are kept the same way: a user body's `rePassword` repeats its `password`, and a
SuperAdmin's ticket without a client names its region. Each schema-valid request carries an
Idempotency-Key of its own, as a client's does. Only schema-valid cases are changed.
"""

import os
import uuid
import zlib

import schemathesis

REFS = {
    ("/v1/clients", "isp"): "CGS_ST_ISP",
    ("/v1/clients", "city"): "CGS_ST_AREA",
    ("/v1/clients", "ms"): "CGS_ST_MS",
    ("/v1/clients", "splitter"): "CGS_ST_SP",
    ("/v1/tickets", "client"): "CGS_ST_CLIENT",
    ("/v1/users", "area"): "CGS_ST_AREA_NAME",
    ("/v1/tickets/{id}/assign", "focId"): "CGS_ST_FOC",
}


def _keeps_generated(body):
    return zlib.crc32(repr(body).encode()) % 10 == 0


@schemathesis.hook
def map_case(context, case):
    # Only schema-valid cases, in every phase: a negative case keeps the flaw it was made with.
    meta = case.meta
    if meta is None or meta.generation.mode.name != "POSITIVE":
        return case
    # A client makes a fresh Idempotency-Key for each request it means to make once; the
    # generated keys repeat across different bodies, which the API rightly refuses (409).
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if isinstance(case.body, dict):
        # The examples and the coverage phase make few cases each, and always get real rows;
        # the many of fuzzing keep what was generated one time in ten.
        keep = meta.phase.name == "fuzzing" and _keeps_generated(case.body)
        case.body = case.body if keep else _with_real_rows(context.operation, case.body)
    return case


def _with_real_rows(op, body):
    if op is None:
        return body
    path = op.path.removesuffix("/{id}") if op.path != "/v1/tickets/{id}/assign" else op.path
    for (prefix, field), var in REFS.items():
        if path == prefix and field in body and os.environ.get(var):
            body[field] = os.environ[var]
    if path == "/v1/clients" and body.get("city") == os.environ.get("CGS_ST_AREA"):
        # The city is an area of the West.
        body["region"] = "West"
    if path == "/v1/users":
        if body.get("area") is not None:
            # The area exists in the West only.
            body["region"] = "West"
        password = next((body[k] for k in ("password", "rePassword") if isinstance(body.get(k), str)), None)
        if password is not None:
            body["password"] = body["rePassword"] = password
    if path == "/v1/tickets" and body.get("client") is None and body.get("region") is None:
        # A SuperAdmin's ticket without a client names its region (a NOC's takes the NOC's).
        body["region"] = "West"
    return body
