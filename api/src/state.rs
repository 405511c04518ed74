//! What every handler shares.

use std::sync::Arc;

use common::{
    auth::{FirebaseSigner, TokenKeys},
    config::Settings,
    db::Db,
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: TokenKeys,
    pub settings: Arc<Settings>,
    /// Signs Firebase custom tokens when a service account is configured.
    pub firebase: Option<FirebaseSigner>,
}
