//! `/v1/areas`, `/v1/isps`, `/v1/indications`, `/v1/main_splitters` and `/v1/splitters`: the
//! catalogue, five resources of one shape (SuperAdmin writes, everyone signed in reads), over
//! `common::db::catalog`.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{
        self,
        catalog::{self, AREAS, Catalog, INDICATIONS, ISPS, MAIN_SPLITTERS, SPLITTERS},
        sql::{Arg, Row},
    },
    domain::{
        IndicationCategory, Region,
        validate::{Checker, LONG_MAX},
    },
};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::{ParseFromJSON, ToJSON},
};
use uuid::Uuid;

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, Listed, created, found, listed, page_request},
    error::ApiResult,
    state::AppState,
    text::{Coordinate, NotBlank, NotBlankLong, Text},
};

/// An area.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
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

/// An area's fields.
#[derive(Debug, Object)]
pub struct AreaBody {
    pub region: Region,
    pub name: Text<NotBlank>,
    pub initial: Text<NotBlank>,
}

/// An ISP.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct Isp {
    pub id: Uuid,
    pub name: String,
    pub initial: String,
    pub brand: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An ISP's fields. `initial` is unique.
#[derive(Debug, Object)]
pub struct IspBody {
    pub name: Text<NotBlank>,
    pub initial: Text<NotBlank>,
    pub brand: Text<NotBlank>,
}

/// An indication.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct Indication {
    pub id: Uuid,
    pub category: IndicationCategory,
    pub indication: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An indication's fields.
#[derive(Debug, Object)]
pub struct IndicationBody {
    pub category: IndicationCategory,
    pub indication: Text<NotBlankLong>,
}

/// A main splitter or splitter.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct Splitter {
    pub id: Uuid,
    pub name: String,
    /// `latitude,longitude`.
    pub coordinate: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A splitter's fields.
#[derive(Debug, Object)]
pub struct SplitterBody {
    pub name: Text<NotBlank>,
    /// `latitude,longitude` in decimal degrees.
    pub coordinate: Text<Coordinate>,
}

/// A body checked and turned into the values of its catalogue's columns, trimmed, in order.
trait Fields {
    fn values(self) -> Result<Vec<Arg>, DomainError>;
}

fn trimmed(text: &str) -> Arg {
    text.trim().into()
}

impl Fields for AreaBody {
    fn values(self) -> Result<Vec<Arg>, DomainError> {
        Checker::new().required("name", &self.name).required("initial", &self.initial).finish()?;
        Ok(vec![self.region.into(), trimmed(&self.name), trimmed(&self.initial)])
    }
}

impl Fields for IspBody {
    fn values(self) -> Result<Vec<Arg>, DomainError> {
        Checker::new()
            .required("name", &self.name)
            .required("initial", &self.initial)
            .required("brand", &self.brand)
            .finish()?;
        Ok(vec![trimmed(&self.name), trimmed(&self.initial), trimmed(&self.brand)])
    }
}

impl Fields for IndicationBody {
    fn values(self) -> Result<Vec<Arg>, DomainError> {
        let mut check = Checker::new();
        if self.indication.trim().is_empty() {
            check.fail("indication", "must not be blank");
        }
        check.max_len("indication", &self.indication, LONG_MAX).finish()?;
        Ok(vec![self.category.into(), trimmed(&self.indication)])
    }
}

impl Fields for SplitterBody {
    fn values(self) -> Result<Vec<Arg>, DomainError> {
        Checker::new().required("name", &self.name).coordinate("coordinate", &self.coordinate).finish()?;
        Ok(vec![trimmed(&self.name), trimmed(&self.coordinate)])
    }
}

/// What a catalogue operation answers: a row type both backends read and the API writes.
trait Resource: Row + ParseFromJSON + ToJSON {}

impl<T: Row + ParseFromJSON + ToJSON> Resource for T {}

async fn create<R: Resource>(
    state: &AppState,
    auth: &Auth,
    cat: &Catalog,
    body: impl Fields,
) -> ApiResult<Created<R>> {
    auth.actor().require_super_admin()?;
    let values = body.values()?;
    let mut tx = state.db.begin_write().await?;
    let row = catalog::insert(&mut tx, cat, values, db::now()).await?;
    tx.commit().await?;
    Ok(created(row))
}

async fn list<R: Resource>(
    state: &AppState,
    cat: &Catalog,
    filter: Option<Arg>,
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> ApiResult<Listed<R>> {
    let page = page_request(limit, offset)?;
    let mut tx = state.db.begin().await?;
    let rows = catalog::list(&mut tx, cat, filter, q.as_deref(), page).await?;
    tx.commit().await?;
    Ok(listed(rows, |r| r))
}

async fn get<R: Resource>(state: &AppState, cat: &Catalog, id: Uuid) -> ApiResult<Found<R>> {
    let mut tx = state.db.begin().await?;
    let row = catalog::get(&mut tx, cat, id).await?.ok_or(DomainError::NotFound(cat.noun))?;
    tx.commit().await?;
    Ok(found(row))
}

async fn update<R: Resource>(
    state: &AppState,
    auth: &Auth,
    cat: &Catalog,
    id: Uuid,
    body: impl Fields,
) -> ApiResult<Found<R>> {
    auth.actor().require_super_admin()?;
    let values = body.values()?;
    let mut tx = state.db.begin_write().await?;
    let row =
        catalog::update(&mut tx, cat, id, values, db::now()).await?.ok_or(DomainError::NotFound(cat.noun))?;
    tx.commit().await?;
    Ok(found(row))
}

async fn delete<R: Resource>(state: &AppState, auth: &Auth, cat: &Catalog, id: Uuid) -> ApiResult<Found<R>> {
    auth.actor().require_super_admin()?;
    let mut tx = state.db.begin_write().await?;
    let row = catalog::delete(&mut tx, cat, id).await?.ok_or(DomainError::NotFound(cat.noun))?;
    tx.commit().await?;
    Ok(found(row))
}

/// One catalogue resource: its path, table, types, operation ids and descriptions, the list's
/// optional filter and the description of its text search.
macro_rules! catalog_api {
    (
        $api:ident, $prefix:literal, $cat:expr, $row:ty, $body:ty,
        [$create_id:literal, $list_id:literal, $get_id:literal, $update_id:literal, $delete_id:literal],
        [$create:literal, $list:literal, $get:literal, $update:literal, $delete:literal],
        search: $search:literal $(, filter: $filter:ident: $filter_ty:ty)? $(,)?
    ) => {
        pub struct $api;

        #[OpenApi(prefix_path = $prefix, tag = "ApiTags::MasterData")]
        impl $api {
            #[doc = $create]
            #[oai(path = "/", method = "post", operation_id = $create_id)]
            async fn create(
                &self,
                state: Data<&AppState>,
                auth: Auth,
                body: Json<$body>,
            ) -> ApiResult<Created<$row>> {
                create(&state, &auth, &$cat, body.0).await
            }

            #[doc = $list]
            #[oai(path = "/", method = "get", operation_id = $list_id)]
            async fn list(
                &self,
                state: Data<&AppState>,
                _auth: Auth,
                $($filter: Query<Option<$filter_ty>>,)?
                #[doc = $search]
                #[oai(validator(max_length = 200))]
                q: Query<Option<String>>,
                /// Rows per page, 1 to 100 (default 20).
                #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
                limit: Query<Option<i64>>,
                /// Rows to skip (default 0).
                #[oai(validator(minimum(value = "0")))]
                offset: Query<Option<i64>>,
            ) -> ApiResult<Listed<$row>> {
                let filter: Option<Arg> = None $(.or($filter.0.map(Arg::from)))?;
                list(&state, &$cat, filter, q.0, limit.0, offset.0).await
            }

            #[doc = $get]
            #[oai(path = "/:id", method = "get", operation_id = $get_id)]
            async fn get(&self, state: Data<&AppState>, _auth: Auth, id: Path<Uuid>) -> ApiResult<Found<$row>> {
                get(&state, &$cat, id.0).await
            }

            #[doc = $update]
            #[oai(path = "/:id", method = "put", operation_id = $update_id)]
            async fn update(
                &self,
                state: Data<&AppState>,
                auth: Auth,
                id: Path<Uuid>,
                body: Json<$body>,
            ) -> ApiResult<Found<$row>> {
                update(&state, &auth, &$cat, id.0, body.0).await
            }

            #[doc = $delete]
            #[oai(path = "/:id", method = "delete", operation_id = $delete_id)]
            async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<$row>> {
                delete(&state, &auth, &$cat, id.0).await
            }
        }
    };
}

catalog_api!(
    AreasApi, "/v1/areas", AREAS, Area, AreaBody,
    ["createArea", "listAreas", "getArea", "updateArea", "deleteArea"],
    [
        "Add an area (SuperAdmin). Names are unique within a region.",
        "List areas.",
        "An area's detail.",
        "Update an area (SuperAdmin).",
        "Delete an area (SuperAdmin); 409 while users or clients use it."
    ],
    search: "Text search in the name.",
    filter: region: Region,
);

catalog_api!(
    IspsApi, "/v1/isps", ISPS, Isp, IspBody,
    ["createIsp", "listIsps", "getIsp", "updateIsp", "deleteIsp"],
    [
        "Add an ISP (SuperAdmin).",
        "List ISPs.",
        "An ISP's detail.",
        "Update an ISP (SuperAdmin).",
        "Delete an ISP (SuperAdmin); 409 while clients use it."
    ],
    search: "Text search in name, initial and brand.",
);

catalog_api!(
    IndicationsApi, "/v1/indications", INDICATIONS, Indication, IndicationBody,
    ["createIndication", "listIndications", "getIndication", "updateIndication", "deleteIndication"],
    [
        "Add an indication (SuperAdmin).",
        "List indications, optionally of one category.",
        "An indication's detail.",
        "Update an indication (SuperAdmin).",
        "Delete an indication (SuperAdmin)."
    ],
    search: "Text search in the indication.",
    filter: category: IndicationCategory,
);

catalog_api!(
    MainSplittersApi, "/v1/main_splitters", MAIN_SPLITTERS, Splitter, SplitterBody,
    ["createMainSplitter", "listMainSplitters", "getMainSplitter", "updateMainSplitter", "deleteMainSplitter"],
    [
        "Add a main splitter (SuperAdmin).",
        "List main splitters.",
        "A main splitter's detail.",
        "Update a main splitter (SuperAdmin).",
        "Delete a main splitter (SuperAdmin); 409 while clients use it."
    ],
    search: "Text search in the name.",
);

catalog_api!(
    SplittersApi, "/v1/splitters", SPLITTERS, Splitter, SplitterBody,
    ["createSplitter", "listSplitters", "getSplitter", "updateSplitter", "deleteSplitter"],
    [
        "Add a splitter (SuperAdmin).",
        "List splitters.",
        "A splitter's detail.",
        "Update a splitter (SuperAdmin).",
        "Delete a splitter (SuperAdmin); 409 while clients use it."
    ],
    search: "Text search in the name.",
);
