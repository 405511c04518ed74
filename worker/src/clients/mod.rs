//! Clients of outside services.

pub mod firestore;
