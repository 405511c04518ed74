//! The pure domain: enums of the contract, validation rules and the access rule. No I/O here.

pub mod access;
pub mod enums;
pub mod evidence;
pub mod outage;
pub mod preferences;
pub mod report;
pub mod sla;
pub mod ticket;
pub mod validate;
pub mod webhook;

pub use enums::*;

/// The client name of a ticket without a client (the contract's `Non SLA`).
pub const NON_SLA: &str = "Non SLA";
