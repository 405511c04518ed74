//! One `#[OpenApi]` impl per resource.

pub mod admin;
pub mod catalog;
pub mod clients;
pub mod health;
pub mod media;
pub mod outages;
pub mod reports;
pub mod tickets;
pub mod users;
pub mod validations;
pub mod webhooks;
