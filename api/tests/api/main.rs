//! Integration tests: the real HTTP app on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod bad_input;
mod channels;
mod chaos;
mod cli;
mod connections;
mod cors;
mod feed;
mod firestore;
mod flow;
mod hostile;
pub mod master_data;
mod media;
mod metrics;
mod openapi;
pub mod outages;
mod replicas;
mod reports;
mod roles;
mod security;
mod shutdown;
mod tickets;
mod users;
mod webhooks;
mod worker;
