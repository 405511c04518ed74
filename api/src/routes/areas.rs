//! `/v1/areas`: cities and districts of a region.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, areas},
    domain::{Region, validate::Checker},
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

/// An area.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Area {
    pub id: Uuid,
    pub region: Region,
    pub name: String,
    pub initial: String,
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<areas::AreaRow> for Area {
    fn from(r: areas::AreaRow) -> Self {
        Self {
            id: r.id,
            region: r.region,
            name: r.name,
            initial: r.initial,
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        }
    }
}

/// An area's fields.
#[derive(Debug, Object)]
pub struct AreaBody {
    pub region: Region,
    pub name: Text<NotBlank>,
    pub initial: Text<NotBlank>,
}

impl AreaBody {
    fn fields(self) -> Result<areas::AreaFields, DomainError> {
        Checker::new().required("name", &self.name).required("initial", &self.initial).finish()?;
        Ok(areas::AreaFields {
            region: self.region,
            name: self.name.trim().to_owned(),
            initial: self.initial.trim().to_owned(),
        })
    }
}

pub struct AreasApi;

#[OpenApi(prefix_path = "/v1/areas", tag = "ApiTags::MasterData")]
impl AreasApi {
    /// Add an area (SuperAdmin). Names are unique within a region.
    #[oai(path = "/", method = "post", operation_id = "createArea")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<AreaBody>,
    ) -> ApiResult<Created<Area>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = areas::insert(&mut tx, &f, db::now()).await?;
        tx.commit().await?;
        Ok(created(row.into()))
    }

    /// List areas.
    #[oai(path = "/", method = "get", operation_id = "listAreas")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: Auth,
        region: Query<Option<Region>>,
        /// Text search in the name.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<Area>> {
        let page = page_request(limit.0, offset.0)?;
        let mut tx = state.db.begin().await?;
        let rows = areas::list(&mut tx, region.0, q.0.as_deref(), page).await?;
        tx.commit().await?;
        Ok(listed(rows, Area::from))
    }

    /// An area's detail.
    #[oai(path = "/:id", method = "get", operation_id = "getArea")]
    async fn get(&self, state: Data<&AppState>, _auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Area>> {
        let mut tx = state.db.begin().await?;
        let row = areas::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("area"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Update an area (SuperAdmin).
    #[oai(path = "/:id", method = "put", operation_id = "updateArea")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<AreaBody>,
    ) -> ApiResult<Found<Area>> {
        auth.actor().require_super_admin()?;
        let f = body.0.fields()?;
        let mut tx = state.db.begin_write().await?;
        let row = areas::update(&mut tx, id.0, &f, db::now()).await?.ok_or(DomainError::NotFound("area"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Delete an area (SuperAdmin); 409 while users or clients use it.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteArea")]
    async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Area>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let row = areas::delete(&mut tx, id.0).await?.ok_or(DomainError::NotFound("area"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }
}
