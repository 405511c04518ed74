-- Mails that became tickets, by Message-ID: the same mail read twice makes one ticket.
CREATE TABLE mail_intake (
    message_id  TEXT PRIMARY KEY,
    ticket_id   BLOB NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    received_at TEXT NOT NULL
);
