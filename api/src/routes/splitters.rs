//! `/v1/main_splitters` and `/v1/splitters`: the same resource shape over two tables.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{
        self,
        splitters::{self, SplitterKind},
    },
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
    text::{Coordinate, NotBlank, Text},
};

/// A main splitter or splitter.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Splitter {
    pub id: Uuid,
    pub name: String,
    /// `latitude,longitude`.
    pub coordinate: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<splitters::SplitterRow> for Splitter {
    fn from(r: splitters::SplitterRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            coordinate: r.coordinate,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A splitter's fields.
#[derive(Debug, Object)]
pub struct SplitterBody {
    pub name: Text<NotBlank>,
    /// `latitude,longitude` in decimal degrees.
    pub coordinate: Text<Coordinate>,
}

impl SplitterBody {
    fn fields(self) -> Result<splitters::SplitterFields, DomainError> {
        Checker::new().required("name", &self.name).coordinate("coordinate", &self.coordinate).finish()?;
        Ok(splitters::SplitterFields {
            name: self.name.trim().to_owned(),
            coordinate: self.coordinate.trim().to_owned(),
        })
    }
}

fn missing(kind: SplitterKind) -> DomainError {
    DomainError::NotFound(kind.noun())
}

async fn create(
    state: &AppState,
    auth: &Auth,
    kind: SplitterKind,
    body: SplitterBody,
) -> ApiResult<Created<Splitter>> {
    auth.actor().require_super_admin()?;
    let f = body.fields()?;
    let mut tx = state.db.begin_write().await?;
    let row = splitters::insert(&mut tx, kind, &f, db::now()).await?;
    tx.commit().await?;
    Ok(created(row.into()))
}

async fn list(
    state: &AppState,
    kind: SplitterKind,
    q: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
) -> ApiResult<Listed<Splitter>> {
    let page = page_request(limit, offset)?;
    let mut tx = state.db.begin().await?;
    let rows = splitters::list(&mut tx, kind, q.as_deref(), page).await?;
    tx.commit().await?;
    Ok(listed(rows, Splitter::from))
}

async fn get(state: &AppState, kind: SplitterKind, id: Uuid) -> ApiResult<Found<Splitter>> {
    let mut tx = state.db.begin().await?;
    let row = splitters::get(&mut tx, kind, id).await?.ok_or_else(|| missing(kind))?;
    tx.commit().await?;
    Ok(found(row.into()))
}

async fn update(
    state: &AppState,
    auth: &Auth,
    kind: SplitterKind,
    id: Uuid,
    body: SplitterBody,
) -> ApiResult<Found<Splitter>> {
    auth.actor().require_super_admin()?;
    let f = body.fields()?;
    let mut tx = state.db.begin_write().await?;
    let row = splitters::update(&mut tx, kind, id, &f, db::now()).await?.ok_or_else(|| missing(kind))?;
    tx.commit().await?;
    Ok(found(row.into()))
}

async fn delete(state: &AppState, auth: &Auth, kind: SplitterKind, id: Uuid) -> ApiResult<Found<Splitter>> {
    auth.actor().require_super_admin()?;
    let mut tx = state.db.begin_write().await?;
    let row = splitters::delete(&mut tx, kind, id).await?.ok_or_else(|| missing(kind))?;
    tx.commit().await?;
    Ok(found(row.into()))
}

/// One resource per splitter table; the operations differ only in the table.
macro_rules! splitter_api {
    ($api:ident, $prefix:literal, $kind:expr, $ids:tt, $create:literal, $list:literal, $get:literal, $update:literal, $delete:literal) => {
        splitter_api!(@ $api, $prefix, $kind, $ids, $create, $list, $get, $update, $delete);
    };
    (@ $api:ident, $prefix:literal, $kind:expr, [$create_id:literal, $list_id:literal, $get_id:literal, $update_id:literal, $delete_id:literal], $create:literal, $list:literal, $get:literal, $update:literal, $delete:literal) => {
        pub struct $api;

        #[OpenApi(prefix_path = $prefix, tag = "ApiTags::MasterData")]
        impl $api {
            #[doc = $create]
            #[oai(path = "/", method = "post", operation_id = $create_id)]
            async fn create(
                &self,
                state: Data<&AppState>,
                auth: Auth,
                body: Json<SplitterBody>,
            ) -> ApiResult<Created<Splitter>> {
                create(&state, &auth, $kind, body.0).await
            }

            #[doc = $list]
            #[oai(path = "/", method = "get", operation_id = $list_id)]
            async fn list(
                &self,
                state: Data<&AppState>,
                _auth: Auth,
                /// Text search in the name.
                #[oai(validator(max_length = 200))]
                q: Query<Option<String>>,
                /// Rows per page, 1 to 100 (default 20).
                #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
                limit: Query<Option<i64>>,
                /// Rows to skip (default 0).
                #[oai(validator(minimum(value = "0")))]
                offset: Query<Option<i64>>,
            ) -> ApiResult<Listed<Splitter>> {
                list(&state, $kind, q.0, limit.0, offset.0).await
            }

            #[doc = $get]
            #[oai(path = "/:id", method = "get", operation_id = $get_id)]
            async fn get(
                &self,
                state: Data<&AppState>,
                _auth: Auth,
                id: Path<Uuid>,
            ) -> ApiResult<Found<Splitter>> {
                get(&state, $kind, id.0).await
            }

            #[doc = $update]
            #[oai(path = "/:id", method = "put", operation_id = $update_id)]
            async fn update(
                &self,
                state: Data<&AppState>,
                auth: Auth,
                id: Path<Uuid>,
                body: Json<SplitterBody>,
            ) -> ApiResult<Found<Splitter>> {
                update(&state, &auth, $kind, id.0, body.0).await
            }

            #[doc = $delete]
            #[oai(path = "/:id", method = "delete", operation_id = $delete_id)]
            async fn delete(
                &self,
                state: Data<&AppState>,
                auth: Auth,
                id: Path<Uuid>,
            ) -> ApiResult<Found<Splitter>> {
                delete(&state, &auth, $kind, id.0).await
            }
        }
    };
}

splitter_api!(
    MainSplittersApi,
    "/v1/main_splitters",
    SplitterKind::Main,
    [
        "createMainSplitter",
        "listMainSplitters",
        "getMainSplitter",
        "updateMainSplitter",
        "deleteMainSplitter"
    ],
    "Add a main splitter (SuperAdmin).",
    "List main splitters.",
    "A main splitter's detail.",
    "Update a main splitter (SuperAdmin).",
    "Delete a main splitter (SuperAdmin); 409 while clients use it."
);

splitter_api!(
    SplittersApi,
    "/v1/splitters",
    SplitterKind::Distribution,
    ["createSplitter", "listSplitters", "getSplitter", "updateSplitter", "deleteSplitter"],
    "Add a splitter (SuperAdmin).",
    "List splitters.",
    "A splitter's detail.",
    "Update a splitter (SuperAdmin).",
    "Delete a splitter (SuperAdmin); 409 while clients use it."
);
