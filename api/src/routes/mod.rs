//! One `#[OpenApi]` impl per resource.

pub mod admin;
pub mod areas;
pub mod clients;
pub mod health;
pub mod indications;
pub mod isps;
pub mod reports;
pub mod splitters;
pub mod tickets;
pub mod users;
