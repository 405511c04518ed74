//! Clients of outside services.

pub mod firestore;
pub mod mail;
pub mod telegram;
