//! What every entry point (HTTP API, worker jobs, chat) asks of the system: each operation loads
//! what its rules need, applies them, and persists the result in the caller's transaction.

mod evidence;
pub mod outages;
pub mod sla;
pub mod tickets;
pub mod webhooks;
