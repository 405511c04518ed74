//! What every handler shares.

use std::sync::Arc;

use common::{auth::TokenKeys, config::Settings, db::Db};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: TokenKeys,
    pub settings: Arc<Settings>,
}
