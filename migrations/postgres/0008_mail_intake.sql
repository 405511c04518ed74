-- Mails that became tickets, by Message-ID: the same mail read twice makes one ticket.
CREATE TABLE mail_intake (
    message_id  TEXT PRIMARY KEY,
    ticket_id   UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    received_at TIMESTAMPTZ NOT NULL
);
