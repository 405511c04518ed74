//! The announcement of a ticket that became `Open`: the text every channel sends to the field
//! technicians of its region (mail now, chat with the same words).

use uuid::Uuid;

use crate::db::tickets::TicketRow;

/// What technicians are told of an open ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub ticket_id: Uuid,
    pub number: String,
    pub customer: String,
    pub address: String,
    pub indication: String,
    pub region: String,
    /// Where to accept it, when the web app's address is configured.
    pub accept_url: Option<String>,
}

impl Announcement {
    pub fn of(t: &TicketRow, app_url: Option<&str>) -> Self {
        let indication = match t.indication.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => format!("{} ({text})", t.indication_category),
            None => t.indication_category.to_string(),
        };
        Self {
            ticket_id: t.state.id,
            number: t.ticket_id.clone(),
            customer: t.end_user.clone(),
            address: t.address.clone().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "-".into()),
            indication,
            region: t.state.region.to_string(),
            accept_url: app_url.map(|base| format!("{}/tickets/{}", base.trim_end_matches('/'), t.state.id)),
        }
    }

    pub fn subject(&self) -> String {
        format!("New ticket {}: {}", self.number, self.customer)
    }

    /// The body: what, where, and how to take it.
    pub fn text(&self) -> String {
        let accept = match &self.accept_url {
            Some(url) => format!("Accept it: {url}"),
            None => format!("Accept it in the CGS app (ticket {}).", self.number),
        };
        format!(
            "A ticket in {region} needs a technician.\n\n\
             Ticket:     {number}\n\
             Customer:   {customer}\n\
             Address:    {address}\n\
             Indication: {indication}\n\n\
             {accept}\n\
             The first technician to accept it takes it.\n",
            region = self.region,
            number = self.number,
            customer = self.customer,
            address = self.address,
            indication = self.indication,
        )
    }
}
