-- Outages: a ticket that stands for one fault of a network element (a splitter, a main
-- splitter or a POP) and the customers' reports linked to it as its children. `outage_element`
-- names the element (`Splitter:<id>`, `MainSplitter:<id>`, `Pop:<region>:<name>`): one open
-- outage per element. `child_count` is the number of reports linked to it.
ALTER TABLE tickets ADD COLUMN parent_id UUID REFERENCES tickets (id);
ALTER TABLE tickets ADD COLUMN is_outage BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tickets ADD COLUMN outage_level TEXT;
ALTER TABLE tickets ADD COLUMN outage_element TEXT;
ALTER TABLE tickets ADD COLUMN outage_name TEXT;
ALTER TABLE tickets ADD COLUMN child_count BIGINT NOT NULL DEFAULT 0;

CREATE INDEX tickets_parent_idx ON tickets (parent_id) WHERE parent_id IS NOT NULL;
CREATE UNIQUE INDEX tickets_open_outage_idx ON tickets (outage_element) WHERE is_outage AND status <> 'Closed';
CREATE INDEX tickets_outage_idx ON tickets (published_at) WHERE is_outage;
CREATE INDEX clients_pop_idx ON clients (region, pop);
