//! `/v1/indications`: the catalogue of fault indications, by category.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, indications},
    domain::{
        IndicationCategory,
        validate::{Checker, LONG_MAX},
    },
};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, Listed, created, found, listed, page_request},
    error::ApiResult,
    state::AppState,
    text::{NotBlankLong, Text},
};

/// An indication.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Indication {
    pub id: Uuid,
    pub category: IndicationCategory,
    pub indication: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<indications::IndicationRow> for Indication {
    fn from(r: indications::IndicationRow) -> Self {
        Self {
            id: r.id,
            category: r.category,
            indication: r.indication,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An indication's fields.
#[derive(Debug, Object)]
pub struct IndicationBody {
    pub category: IndicationCategory,
    pub indication: Text<NotBlankLong>,
}

impl IndicationBody {
    fn fields(self) -> Result<indications::IndicationFields, DomainError> {
        let mut check = Checker::new();
        if self.indication.trim().is_empty() {
            check.fail("indication", "must not be blank");
        }
        check.max_len("indication", &self.indication, LONG_MAX).finish()?;
        Ok(indications::IndicationFields {
            category: self.category,
            indication: self.indication.trim().to_owned(),
        })
    }
}

pub struct IndicationsApi;

#[OpenApi(prefix_path = "/v1/indications", tag = "ApiTags::MasterData")]
impl IndicationsApi {
    /// Add an indication (SuperAdmin).
    #[oai(path = "/", method = "post", operation_id = "createIndication")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<IndicationBody>,
    ) -> ApiResult<Created<Indication>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = indications::insert(&mut tx, &f, db::now()).await?;
        tx.commit().await?;
        Ok(created(row.into()))
    }

    /// List indications, optionally of one category.
    #[oai(path = "/", method = "get", operation_id = "listIndications")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: Auth,
        category: Query<Option<IndicationCategory>>,
        /// Text search in the indication.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<Indication>> {
        let page = page_request(limit.0, offset.0)?;
        let mut tx = state.db.begin().await?;
        let rows = indications::list(&mut tx, category.0, q.0.as_deref(), page).await?;
        tx.commit().await?;
        Ok(listed(rows, Indication::from))
    }

    /// An indication's detail.
    #[oai(path = "/:id", method = "get", operation_id = "getIndication")]
    async fn get(&self, state: Data<&AppState>, _auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Indication>> {
        let mut tx = state.db.begin().await?;
        let row = indications::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("indication"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Update an indication (SuperAdmin).
    #[oai(path = "/:id", method = "put", operation_id = "updateIndication")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<IndicationBody>,
    ) -> ApiResult<Found<Indication>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = indications::update(&mut tx, id.0, &f, db::now())
            .await?
            .ok_or(DomainError::NotFound("indication"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Delete an indication (SuperAdmin).
    #[oai(path = "/:id", method = "delete", operation_id = "deleteIndication")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Found<Indication>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let row = indications::delete(&mut tx, id.0).await?.ok_or(DomainError::NotFound("indication"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }
}
