//! Shared core of CGS Ticketing: the pure domain, persistence on SQLite and PostgreSQL,
//! authentication primitives and typed configuration. Used by `cgs-api` and `cgs-worker`.

pub mod announce;
pub mod auth;
pub mod config;
pub mod db;
pub mod document;
pub mod domain;
pub mod error;
pub mod intake;
pub mod jobs;
pub mod service;

pub use error::DomainError;
