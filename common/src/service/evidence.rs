//! The checks an arriving evidence gets (`domain::evidence`): what they need is read here, the
//! rule is pure, and the result goes into the log entry the evidence makes.

use chrono::{DateTime, Utc};

use crate::{
    config::Settings,
    db::{Tx, clients, media, tickets::TicketRow},
    domain::{
        evidence::{self, EvidenceFacts, PhotoFacts},
        ticket::{Change, Command},
    },
    error::DomainError,
};

/// Checks each evidence `change` logs (a photo, a position) and keeps the result on its entry.
/// A photo of this system's store must be stored. With `CGS_EVIDENCE_ENFORCE`, a flagged
/// check-in is refused.
pub(super) async fn check(
    tx: &mut Tx,
    settings: &Settings,
    row: &TicketRow,
    cmd: &Command,
    change: &mut Change,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let at_customer = matches!(cmd, Command::CheckIn(_) | Command::Finishing(_));
    let mut client: Option<Option<clients::ClientRow>> = None;
    for log in change.logs.iter_mut() {
        let ev = &log.evidence;
        if ev.media_url.is_none() && ev.location.is_none() {
            continue;
        }
        let photo = match ev.media_url.as_deref().and_then(evidence::stored_media) {
            Some(sha) => media::get(tx, sha)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid(
                        "mediaUrl",
                        "no stored photo has this address; upload it with POST /v1/media",
                    )
                })?
                .facts(),
            None => PhotoFacts::default(),
        };
        let first_use = match (&ev.media_url, log.evidence_id) {
            (Some(url), Some(id)) => media::first_use(tx, &evidence::media_key(url), id).await?,
            _ => None,
        };
        if at_customer && client.is_none() {
            client = Some(match row.client_id {
                Some(id) => clients::get(tx, id).await?,
                None => None,
            });
        }
        let client_coordinate = client.as_ref().and_then(|c| c.as_ref()).map(|c| c.coordinate.as_deref());
        let facts = EvidenceFacts {
            at_customer,
            client_coordinate,
            reported: ev.location.as_deref(),
            photo,
            first_use,
            at: now,
        };
        log.evidence.check = Some(evidence::assess(&facts, settings.evidence_policy()));
    }
    if settings.evidence_enforce
        && let Command::CheckIn(_) = cmd
        && let Some(flagged) =
            change.logs.iter().filter_map(|l| l.evidence.check.as_ref()).find(|c| c.is_flagged())
    {
        let flags = flagged.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
        return Err(DomainError::Refused {
            code: "evidence_flagged",
            message: format!(
                "the check-in is refused: its evidence is flagged ({flags}); check in from the customer's place with a new photo"
            ),
        });
    }
    Ok(())
}
