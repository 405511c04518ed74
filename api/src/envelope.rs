//! The success envelope: `{statusCode, data: {result}}`, `{statusCode, data: {result, meta}}`
//! and `{statusCode, data: {}}`, with the HTTP status and `statusCode` always equal.

use common::db::{Page, PageRequest};
use serde::{Serialize, de::DeserializeOwned};

use crate::serde_object::SerdeObject;
use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object,
    payload::{Json, Payload},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ParseFromJSON, ToJSON, Type},
};

/// `data` of a single resource.
#[derive(Debug, Object)]
pub struct ResultData<T: ParseFromJSON + ToJSON> {
    pub result: T,
}

/// One resource.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Single<T: ParseFromJSON + ToJSON> {
    pub status_code: u16,
    pub data: ResultData<T>,
}

/// Paging of a list.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PageMeta {
    /// Rows matching the filters in all; a lower bound when `totalExact` is `false`.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// `false` when the ticket list stopped counting at `offset + CGS_LIST_COUNT_BOUND` (1000 by
    /// default) matches: then at least `total` rows match. Every other list counts exactly.
    pub total_exact: bool,
}

/// `data` of a list.
#[derive(Debug, Object)]
pub struct ListData<T: ParseFromJSON + ToJSON> {
    pub result: Vec<T>,
    pub meta: PageMeta,
}

/// A page of resources.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct List<T: ParseFromJSON + ToJSON> {
    pub status_code: u16,
    pub data: ListData<T>,
}

/// An empty `data` object.
#[derive(Debug, Object)]
pub struct EmptyData {}

/// An answer with nothing in `data`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Empty {
    pub status_code: u16,
    pub data: EmptyData,
}

/// A JSON body answered with the status `S`.
pub struct Reply<B, const S: u16>(pub B);

impl<B: ToJSON + Send, const S: u16> IntoResponse for Reply<B, S> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(S).expect("valid status");
        Json(self.0).with_status(status).into_response()
    }
}

impl<B: ToJSON + Send, const S: u16> ApiResponse for Reply<B, S> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: if S == 201 { "Created" } else { "OK" },
                status: Some(S),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Json::<B>::CONTENT_TYPE,
                    schema: <Json<B> as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        <B as Type>::register(registry);
    }
}

/// 200 with one resource written by serde ([`SerdeObject`]), as `Found<SerdeObject<T>>` would
/// answer it, but written straight from the value into the body: no JSON tree built first.
pub struct FoundSerde<T>(pub T);

impl<T: Serialize + Send> IntoResponse for FoundSerde<T> {
    fn into_response(self) -> Response {
        let mut body = br#"{"statusCode":200,"data":{"result":"#.to_vec();
        if let Err(err) = serde_json::to_writer(&mut body, &self.0) {
            return Response::builder().status(StatusCode::INTERNAL_SERVER_ERROR).body(err.to_string());
        }
        body.extend_from_slice(b"}}");
        Response::builder().content_type("application/json; charset=utf-8").body(body)
    }
}

impl<T: Type + Serialize + DeserializeOwned + Send + Sync> ApiResponse for FoundSerde<T> {
    fn meta() -> MetaResponses {
        Found::<SerdeObject<T>>::meta()
    }

    fn register(registry: &mut Registry) {
        Found::<SerdeObject<T>>::register(registry);
    }
}

/// 200 with one resource.
pub type Found<T> = Reply<Single<T>, 200>;
/// 201 with the created resource.
pub type Created<T> = Reply<Single<T>, 201>;
/// 200 with a page of resources.
pub type Listed<T> = Reply<List<T>, 200>;
/// 200 with an empty `data`.
pub type Done = Reply<Empty, 200>;

pub fn found<T: ParseFromJSON + ToJSON>(result: T) -> Found<T> {
    Reply(Single { status_code: 200, data: ResultData { result } })
}

pub fn created<T: ParseFromJSON + ToJSON>(result: T) -> Created<T> {
    Reply(Single { status_code: 201, data: ResultData { result } })
}

pub fn listed<R, T: ParseFromJSON + ToJSON>(page: Page<R>, f: impl FnMut(R) -> T) -> Listed<T> {
    let page = page.map(f);
    Reply(List {
        status_code: 200,
        data: ListData {
            result: page.items,
            meta: PageMeta {
                total: page.total,
                limit: page.page.limit,
                offset: page.page.offset,
                total_exact: page.total_exact,
            },
        },
    })
}

pub fn done() -> Done {
    Reply(Empty { status_code: 200, data: EmptyData {} })
}

/// Checks `limit` (1..=100, default 20) and `offset` (>= 0, default 0).
pub fn page_request(limit: Option<i64>, offset: Option<i64>) -> Result<PageRequest, common::DomainError> {
    let limit = limit.unwrap_or(20);
    let offset = offset.unwrap_or(0);
    let mut errors = Vec::new();
    if !(1..=100).contains(&limit) {
        errors.push(common::error::FieldError::new("limit", "must be between 1 and 100"));
    }
    if offset < 0 {
        errors.push(common::error::FieldError::new("offset", "must not be negative"));
    }
    if errors.is_empty() {
        Ok(PageRequest { limit, offset })
    } else {
        Err(common::DomainError::Validation(errors))
    }
}
