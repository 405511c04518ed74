//! `/v1/media`: the photo store of evidence. Upload a photo, get back its address to send as a
//! step's `mediaUrl`; read it back under the ticket read rule.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, media},
    domain::evidence::{self, ImageType, format_coordinate},
};
use poem::{IntoResponse, Response, http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi, ResponseContent,
    param::{Header, Path},
    payload::{Json, ParsePayload, Payload},
    registry::{MetaMediaType, MetaSchema, MetaSchemaRef},
};
use sha2::{Digest, Sha256};

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, created},
    error::{ApiError, ApiResult, ErrorBody},
    media_store::StoreError,
    state::AppState,
};

/// A photo's bytes, sent with an image `Content-Type` (`image/jpeg`, `image/png`,
/// `image/webp`, `image/heic`, `image/heif`, or `image/*` as generic clients send it): documented
/// as one `image/*` body, which generated clients send as raw bytes.
pub struct PhotoUpload(Bytes);

impl Payload for PhotoUpload {
    const CONTENT_TYPE: &'static str = "image/*";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence == "image/*" || ImageType::from_mime(&essence).is_some()
    }

    fn schema_ref() -> MetaSchemaRef {
        binary_schema()
    }
}

impl ParsePayload for PhotoUpload {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &poem::Request, body: &mut poem::RequestBody) -> poem::Result<Self> {
        Ok(Self(<Bytes as poem::FromRequest>::from_request(request, body).await?))
    }
}

poem_openapi::impl_apirequest_for_payload!(PhotoUpload,);

fn binary_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }))
}

/// What a photo's EXIF says, when it says it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PhotoExif {
    /// `lat,long` of the camera's GPS.
    pub coordinate: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// When it was taken (a time without an offset read in the uploader's region's zone).
    pub taken_at: Option<DateTime<Utc>>,
}

/// A stored photo.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct StoredPhoto {
    /// Send this as a step's `mediaUrl`.
    pub media_url: String,
    /// Hex SHA-256 of the bytes: the photo's identity (the same bytes are stored once).
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Null when the photo carries neither a GPS position nor a capture time.
    pub exif: Option<PhotoExif>,
    /// When this content was first stored.
    pub created_at: DateTime<Utc>,
}

/// A photo's bytes, with its own image type.
pub struct PhotoBytes {
    bytes: Bytes,
    content_type: String,
}

impl IntoResponse for PhotoBytes {
    fn into_response(self) -> Response {
        Response::builder().content_type(self.content_type).body(self.bytes)
    }
}

impl ResponseContent for PhotoBytes {
    fn media_types() -> Vec<MetaMediaType> {
        let binary = || {
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                format: Some("binary"),
                ..MetaSchema::new("string")
            }))
        };
        ImageType::ALL.iter().map(|t| MetaMediaType { content_type: t.mime(), schema: binary() }).collect()
    }
}

/// How long a client may keep a photo: its content never changes under its address.
const CACHE_FOREVER: &str = "private, max-age=31536000, immutable";

#[derive(ApiResponse)]
pub enum PhotoResponse {
    /// The photo.
    #[oai(status = 200)]
    Photo(PhotoBytes, #[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
    /// The copy the client has (`If-None-Match`) is this photo.
    #[oai(status = 304)]
    NotModified(#[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
}

fn store_failed(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "the media store failed");
    ApiError::Unavailable(Json(ErrorBody::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "media_store_unavailable",
        "the media store cannot be reached just now; retry shortly",
    )))
}

pub struct MediaApi;

#[OpenApi(prefix_path = "/v1/media", tag = "ApiTags::Tickets")]
impl MediaApi {
    /// Upload a photo (any logged-in user): JPEG, PNG, WebP or HEIC, told by its first bytes
    /// (which win over the image type the `Content-Type` names; other bytes answer 400, a type
    /// other than an image 415), at most `CGS_MEDIA_MAX_BYTES` (10 MiB by default; more answers 413 while it is
    /// read). Answers its `mediaUrl` for a step's evidence and what its EXIF says (GPS position,
    /// capture time), which the NOC sees checked against the step.
    #[oai(path = "/", method = "post", operation_id = "uploadMedia")]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: PhotoUpload,
    ) -> ApiResult<Created<StoredPhoto>> {
        let actor = auth.actor();
        let bytes = body.0;
        // The bytes decide: phones label HEIC photos `image/jpeg`, and a generic client labels
        // every image alike. What no accepted image starts like is refused.
        let Some(kind) = ImageType::sniff(&bytes) else {
            return Err(
                DomainError::invalid("body", "the body is not a JPEG, PNG, WebP or HEIC image").into()
            );
        };
        let sha256 = hex(&Sha256::digest(&bytes));
        let facts = evidence::read_photo(&bytes, actor.region.utc_offset());
        let size = bytes.len() as i64;
        state.media.put(&sha256, bytes).await.map_err(store_failed)?;
        let mut tx = state.db.begin_write().await?;
        let row = media::record(&mut tx, &sha256, kind.mime(), size, facts, actor.id, db::now()).await?;
        tx.commit().await?;
        tracing::info!(media.sha256 = %sha256, size, "photo stored");
        let facts = row.facts();
        let exif = (facts.position.is_some() || facts.taken_at.is_some()).then(|| PhotoExif {
            coordinate: facts.position.map(format_coordinate),
            latitude: facts.position.map(|p| p.0),
            longitude: facts.position.map(|p| p.1),
            taken_at: facts.taken_at,
        });
        Ok(created(StoredPhoto {
            media_url: format!("/v1/media/{sha256}"),
            sha256,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            exif,
            created_at: row.created_at,
        }))
    }

    /// A stored photo, for its uploader and for every user who may see a ticket whose evidence
    /// uses it (the ticket read rule); 404 for anyone else. It never changes: clients may keep
    /// it (`Cache-Control: immutable`, `ETag`, `If-None-Match` answers 304).
    #[oai(path = "/:sha256", method = "get", operation_id = "getMedia")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// The photo's hex SHA-256 (lower case).
        #[oai(validator(pattern = "^[0-9a-f]{64}$"))]
        sha256: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<PhotoResponse> {
        let sha256 = sha256.0;
        let mut tx = state.db.begin().await?;
        let row = match media::get(&mut tx, &sha256).await? {
            Some(row) if media::visible_to(&mut tx, &sha256, auth.actor()).await? => row,
            _ => return Err(DomainError::NotFound("photo").into()),
        };
        tx.commit().await?;
        let etag = format!("\"{sha256}\"");
        let matches =
            if_none_match.0.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        if matches {
            return Ok(PhotoResponse::NotModified(CACHE_FOREVER.into(), etag));
        }
        let bytes = state.media.get(&sha256).await.map_err(store_failed)?.ok_or_else(|| {
            tracing::error!(media.sha256 = %sha256, "a recorded photo is missing from the media store");
            store_failed(StoreError::from(object_store::Error::NotFound {
                path: sha256.clone(),
                source: "recorded but not stored".into(),
            }))
        })?;
        Ok(PhotoResponse::Photo(
            PhotoBytes { bytes, content_type: row.content_type },
            CACHE_FOREVER.into(),
            etag,
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
