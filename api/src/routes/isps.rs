//! `/v1/isps`: internet service providers whose customers we serve.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, isps},
    domain::validate::Checker,
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
    text::{NotBlank, Text},
};

/// An ISP.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Isp {
    pub id: Uuid,
    pub name: String,
    pub initial: String,
    pub brand: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<isps::IspRow> for Isp {
    fn from(r: isps::IspRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            initial: r.initial,
            brand: r.brand,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An ISP's fields. `initial` is unique.
#[derive(Debug, Object)]
pub struct IspBody {
    pub name: Text<NotBlank>,
    pub initial: Text<NotBlank>,
    pub brand: Text<NotBlank>,
}

impl IspBody {
    fn fields(self) -> Result<isps::IspFields, DomainError> {
        Checker::new()
            .required("name", &self.name)
            .required("initial", &self.initial)
            .required("brand", &self.brand)
            .finish()?;
        Ok(isps::IspFields {
            name: self.name.trim().to_owned(),
            initial: self.initial.trim().to_owned(),
            brand: self.brand.trim().to_owned(),
        })
    }
}

pub struct IspsApi;

#[OpenApi(prefix_path = "/v1/isps", tag = "ApiTags::MasterData")]
impl IspsApi {
    /// Add an ISP (SuperAdmin).
    #[oai(path = "/", method = "post", operation_id = "createIsp")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<IspBody>,
    ) -> ApiResult<Created<Isp>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = isps::insert(&mut tx, &f, db::now()).await?;
        tx.commit().await?;
        Ok(created(row.into()))
    }

    /// List ISPs.
    #[oai(path = "/", method = "get", operation_id = "listIsps")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: Auth,
        /// Text search in name, initial and brand.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<Isp>> {
        let page = page_request(limit.0, offset.0)?;
        let mut tx = state.db.begin().await?;
        let rows = isps::list(&mut tx, q.0.as_deref(), page).await?;
        tx.commit().await?;
        Ok(listed(rows, Isp::from))
    }

    /// An ISP's detail.
    #[oai(path = "/:id", method = "get", operation_id = "getIsp")]
    async fn get(&self, state: Data<&AppState>, _auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Isp>> {
        let mut tx = state.db.begin().await?;
        let row = isps::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("isp"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Update an ISP (SuperAdmin).
    #[oai(path = "/:id", method = "put", operation_id = "updateIsp")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<IspBody>,
    ) -> ApiResult<Found<Isp>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = isps::update(&mut tx, id.0, &f, db::now()).await?.ok_or(DomainError::NotFound("isp"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Delete an ISP (SuperAdmin); 409 while clients use it.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteIsp")]
    async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Isp>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let row = isps::delete(&mut tx, id.0).await?.ok_or(DomainError::NotFound("isp"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }
}
