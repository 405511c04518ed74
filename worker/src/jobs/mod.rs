//! One file per job.

pub mod broadcast;
pub mod deliver;
pub mod expire_pending;
pub mod publish_scheduled;
pub mod reconcile_sync;
pub mod sla_sweep;
pub mod sync_access;
pub mod sync_ticket;

use common::domain::{Region, Role, access::Actor};
use uuid::Uuid;

/// The actor of the worker's own commands: acts everywhere, like a SuperAdmin.
pub fn system() -> Actor {
    Actor { id: Uuid::nil(), role: Role::SuperAdmin, region: Region::West, name: "System".into() }
}
