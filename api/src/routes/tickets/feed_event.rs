//! The live feed's event as an operation answer: an SSE event, documented by the ticket document.

use common::document::TicketDocument;
use futures_util::{StreamExt, stream::BoxStream};
use poem_openapi::{payload::EventStream, types::ToJSON};

use crate::{auth::Auth, error::ApiResult, state::AppState};

/// An event of the live feed. Documented by its main payload, the ticket document of a
/// `ticket` event; see the operation for the others.
pub struct FeedEvent(poem::web::sse::Event);

impl poem_openapi::types::Type for FeedEvent {
    const IS_REQUIRED: bool = true;
    type RawValueType = TicketDocument;
    type RawElementValueType = TicketDocument;

    fn name() -> std::borrow::Cow<'static, str> {
        TicketDocument::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        TicketDocument::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        TicketDocument::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        None
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::empty())
    }
}

impl ToJSON for FeedEvent {
    /// Unused: events are written by `to_event`.
    fn to_json(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Opens a live-feed stream for the caller's session, from `last_event_id` if given.
pub(super) async fn open(
    state: &AppState,
    auth: &Auth,
    last_event_id: Option<i64>,
) -> ApiResult<EventStream<BoxStream<'static, FeedEvent>>> {
    let session = auth.session();
    let Some(slot) = state.streams.open(session.session_id) else {
        return Err(crate::error::ApiError::too_many(
            "too_many_streams",
            format!(
                "this session has {} live-feed streams open already; close one first",
                crate::feed::STREAMS_PER_SESSION
            ),
            1,
        ));
    };
    let mut ended = slot.ended.clone();
    let events = crate::feed::follow(
        state.db.clone(),
        state.feed.clone(),
        session.actor.clone(),
        session.session_id,
        slot.nudge.clone(),
        last_event_id,
    );
    // The client is told to come back a second after the stream ends, which it does at the
    // latest after `CGS_FEED_STREAM_SECONDS`.
    let lifetime = tokio::time::sleep(std::time::Duration::from_secs(state.settings.feed_stream_seconds));
    let session_ended = async move {
        let _ = ended.wait_for(|e| *e).await;
    };
    let events = futures_util::stream::once(async { poem::web::sse::Event::retry(1000) })
        .chain(events)
        .take_until(lifetime)
        .take_until(session_ended)
        // The slot lives as long as the stream.
        .map(move |e| {
            let _ = &slot;
            FeedEvent(e)
        });
    Ok(EventStream::new(events.boxed()).keep_alive(std::time::Duration::from_secs(15)).to_event(|e| e.0))
}
