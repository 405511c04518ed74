//! `OptionalJson<T>`: a JSON body that may be left out entirely (no body, no content type).
//! poem-openapi's `Json` insists on a `Content-Type` even when the body is optional.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    error::{ContentTypeError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaRequest, Registry},
    types::ParseFromJSON,
};

pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json; charset=utf-8",
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let data = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        match request.content_type() {
            Some(ct) if ct.starts_with("application/json") => {}
            Some(ct) => return Err(ContentTypeError::NotSupported { content_type: ct.to_owned() }.into()),
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        let value: serde_json::Value =
            serde_json::from_slice(&data).map_err(|e| ParseRequestPayloadError { reason: e.to_string() })?;
        let parsed = T::parse_from_json(Some(value))
            .map_err(|e| ParseRequestPayloadError { reason: e.into_message() })?;
        Ok(Self(Some(parsed)))
    }
}
