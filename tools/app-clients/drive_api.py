"""Drives a running cgs-api through the Python client that openapi-python-client generated from
openapi/openapi.json, as an app would: login, a technician account, a ticket created, accepted,
on the way, checked in with a photo uploaded to the media store, the validation queue, validated,
the list, the ticket document, and the photo read back. Every answer is parsed by
the generated models (an undocumented status raises), so a change to the API that breaks
generated clients fails here.

Usage: drive_api.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD (the generated package on PYTHONPATH).
"""

import datetime
import sys
import uuid

from cgs_ticketing_api_client import AuthenticatedClient, Client
from cgs_ticketing_api_client.api.auth import login
from cgs_ticketing_api_client.api.tickets import (
    accept_ticket,
    check_in,
    create_ticket,
    get_media,
    get_ticket,
    list_tickets,
    list_validations,
    report_on_the_way,
    upload_media,
    validate_evidence,
)
from cgs_ticketing_api_client.types import File
from cgs_ticketing_api_client.api.users import create_user
from cgs_ticketing_api_client.models import (
    ErrorBody,
    EvidenceBody,
    IndicationCategory,
    ListTicketSummary,
    ListWaitingEvidence,
    LoginBody,
    LoginRequest,
    NetworkSegment,
    NewTicketBody,
    NewUser,
    Region,
    Role,
    SingleStoredPhoto,
    SingleTicketDocument,
    SingleTicketSummary,
    SingleUser,
    Status,
    TicketSource,
    TicketType,
    ValidateBody,
    Verdict,
)


def expect(answer, kind):
    if not isinstance(answer, kind):
        raise SystemExit(f"expected {kind.__name__}, got {answer!r}")
    return answer


def session(base, email, password):
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    body = expect(login.sync(client=anonymous, body=LoginRequest(email=email, password=password)), LoginBody)
    return AuthenticatedClient(base_url=base, token=body.data.token, raise_on_unexpected_status=True)


def main(base, admin_email, admin_password):
    admin = session(base, admin_email, admin_password)
    wrong = login.sync(
        client=Client(base_url=base, raise_on_unexpected_status=True),
        body=LoginRequest(email=admin_email, password="not-the-password"),
    )
    assert isinstance(wrong, ErrorBody) and wrong.status_code == 401, wrong

    foc_email = f"foc-{uuid.uuid4().hex[:8]}@cgs.test"
    foc_user = expect(
        create_user.sync(
            client=admin,
            body=NewUser(
                email=foc_email,
                password="field-password",
                re_password="field-password",
                nik=uuid.uuid4().hex[:12],
                name="Generated Client FOC",
                role=Role.FOC,
                region=Region.WEST,
            ),
        ),
        SingleUser,
    )
    assert foc_user.data.result.role == Role.FOC
    foc = session(base, foc_email, "field-password")

    created = expect(
        create_ticket.sync(
            client=admin,
            body=NewTicketBody(
                type_=TicketType.TROUBLE,
                source=TicketSource.PHONE,
                indication_category=IndicationCategory.FIBERCUT,
                network_segment=NetworkSegment.ACCESS,
                region=Region.WEST,
                remark="reported through a generated client",
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        SingleTicketSummary,
    )
    ticket = created.data.result
    assert ticket.last_status == Status.OPEN, ticket
    assert isinstance(ticket.created_at, datetime.datetime)

    accepted = expect(accept_ticket.sync(ticket.id, client=foc), SingleTicketSummary)
    assert accepted.data.result.last_status == Status.ACCEPTED
    again = accept_ticket.sync(ticket.id, client=foc)
    assert isinstance(again, ErrorBody) and again.status_code == 409, again
    expect(report_on_the_way.sync(ticket.id, client=foc), SingleTicketSummary)
    # A photo: a JPEG's markers around a comment, unique to this run.
    photo = b"\xff\xd8\xff\xfe\x00\x12" + uuid.uuid4().hex[:16].encode() + b"\xff\xd9"
    stored = expect(upload_media.sync(client=foc, body=File(payload=photo, mime_type="image/jpeg")), SingleStoredPhoto)
    assert stored.data.result.content_type == "image/jpeg" and stored.data.result.size_bytes == len(photo)
    checked = expect(
        check_in.sync(
            ticket.id,
            client=foc,
            body=EvidenceBody(media_url=stored.data.result.media_url, location_coordinate="-6.914,107.609"),
        ),
        SingleTicketSummary,
    )
    assert checked.data.result.last_status == Status.CHECKEDIN
    queue = expect(list_validations.sync(client=admin), ListWaitingEvidence)
    mine = [w for w in queue.data.result if w.ticket.id == ticket.id]
    assert len(mine) == 1 and mine[0].media_url == stored.data.result.media_url, queue
    assert mine[0].flags == [] and mine[0].waiting_seconds >= 0, mine[0]

    doc = expect(get_ticket.sync(ticket.id, client=admin), SingleTicketDocument).data.result
    assert doc.need_validate is True
    waiting = [l for l in doc.ticket_logs if l.need_approval and l.is_approved is None]
    assert len(waiting) == 1 and waiting[0].evidence_id, doc.ticket_logs
    validated = expect(
        validate_evidence.sync(
            ticket.id, waiting[0].evidence_id, Verdict.TRUE, client=admin, body=ValidateBody(approval_remark="photo is clear")
        ),
        SingleTicketSummary,
    )
    assert validated.data.result.last_status == Status.ONGOING

    listed = expect(list_tickets.sync(client=admin, region=Region.WEST, limit=100), ListTicketSummary)
    assert any(t.id == ticket.id for t in listed.data.result), listed
    assert listed.data.meta.total >= 1

    doc = expect(get_ticket.sync(ticket.id, client=foc), SingleTicketDocument).data.result
    assert doc.latest_status == Status.ONGOING and doc.need_validate is False
    assert doc.foc.email == foc_email and doc.noc.role == Role.SUPERADMIN
    assert isinstance(doc.updated_at, datetime.datetime) and isinstance(doc.check_in_time, datetime.datetime)
    approval = [l for l in doc.ticket_logs if l.evidence_id == waiting[0].evidence_id]
    assert approval and all(l.is_approved is True for l in approval), approval
    assert approval[0].approval_remark == "photo is clear"
    read_back = get_media.sync(stored.data.result.sha256, client=admin)
    assert isinstance(read_back, File) and read_back.payload.read() == photo, read_back
    print(f"generated client: {len(doc.ticket_logs)} log entries on {doc.ticket_id}, every answer parsed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
