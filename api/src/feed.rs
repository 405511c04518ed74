//! The live ticket feed (`GET /v1/tickets/stream`, Server-Sent Events).
//!
//! Every ticket change appends a row to `ticket_events` in the changing transaction. One task
//! per process, the [`Hub`], follows that log and publishes its *head*: the highest event
//! number below which every event is committed (or known never to commit). Each stream wakes on
//! a new head, reads the events since its last one that concern its caller by the ticket read
//! rule, and sends the rendered ticket documents; the event id is the event number, so a
//! client reconnecting with `Last-Event-ID` misses nothing that is still kept.
//!
//! PostgreSQL hands out event numbers before commit, so a later number can commit first. At
//! such a gap the hub waits until every transaction that was running when it saw the gap has
//! ended (by the snapshot's transaction-id horizon); a number still missing then was rolled
//! back. SQLite serializes writers and leaves no gaps.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{
    DomainError,
    db::{self, Db, feed, sessions},
    document,
    domain::access::Actor,
};
use futures_util::{Stream, StreamExt, stream};
use poem::web::sse::Event;
use tokio::sync::watch;
use uuid::Uuid;

/// How often the hub looks for new events.
const POLL: Duration = Duration::from_millis(200);
/// Events read per query.
const BATCH: i64 = 1000;
/// A gap still open after this long is skipped, with a warning, even if the horizon did not
/// pass it (a transaction that stays open for minutes elsewhere in the cluster holds it back).
const GAP_TIMEOUT: Duration = Duration::from_secs(60);
/// Events a stream reads and sends at once.
const STREAM_BATCH: i64 = 200;

/// Live-feed streams one session may have open at once in one process; one more answers 429.
pub const STREAMS_PER_SESSION: usize = 4;
/// How often the open streams' sessions are checked: a stream ends within this long of its
/// session (logout, deactivation, expiry), whether or not a change comes.
pub const SESSION_SWEEP: Duration = Duration::from_millis(500);

/// The sessions that have live-feed streams open in this process, and how to end them.
#[derive(Default)]
pub struct Streams {
    open: Mutex<HashMap<Uuid, Watched>>,
}

struct Watched {
    count: usize,
    ended: watch::Sender<bool>,
    /// Bumped to make the session's streams write at once (see [`Streams::open`]).
    nudge: watch::Sender<u64>,
}

/// One open stream's place in [`Streams`], given back when the stream is dropped.
pub struct Slot {
    streams: Arc<Streams>,
    session: Uuid,
    /// Turns `true` when the session has ended.
    pub ended: watch::Receiver<bool>,
    /// Changes when the stream should write something at once.
    pub nudge: watch::Receiver<u64>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = open.get_mut(&self.session) {
            w.count -= 1;
            if w.count == 0 {
                open.remove(&self.session);
            }
        }
    }
}

impl Streams {
    /// A slot for one more stream of `session`; `None` when it has [`STREAMS_PER_SESSION`].
    ///
    /// A stream whose client went away holds its place until a write to it fails, and a quiet
    /// stream writes only a keep-alive every 15 s. So a refusal makes the session's streams
    /// write twice at once (a `retry` field, which changes nothing for a live client): the
    /// first write to a closed connection draws its reset, the second fails and frees the
    /// place, and the client asking again a second later gets it.
    pub fn open(self: &Arc<Self>, session: Uuid) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let w = open.entry(session).or_insert_with(|| Watched {
            count: 0,
            ended: watch::channel(false).0,
            nudge: watch::channel(0).0,
        });
        if w.count >= STREAMS_PER_SESSION {
            w.nudge.send_modify(|n| *n += 1);
            let nudge = w.nudge.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                nudge.send_modify(|n| *n += 1);
            });
            return None;
        }
        w.count += 1;
        Some(Slot { streams: self.clone(), session, ended: w.ended.subscribe(), nudge: w.nudge.subscribe() })
    }

    /// How many streams are open in this process.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).values().map(|w| w.count).sum()
    }

    /// Every [`SESSION_SWEEP`] until `stop` resolves: ends the streams of the sessions that are
    /// no longer live, in one query for all. While the database cannot answer, streams stay.
    pub async fn sweep(
        self: Arc<Self>,
        db: Db,
        idle: Option<chrono::Duration>,
        stop: impl Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        let mut touched = Instant::now();
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(SESSION_SWEEP) => {}
            }
            let sessions: Vec<Uuid> =
                self.open.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
            if sessions.is_empty() {
                continue;
            }
            let live = match sessions::live_among(&db, &sessions, db::now()).await {
                Ok(live) => live,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed: checking the streams' sessions failed");
                    continue;
                }
            };
            {
                let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
                for (session, w) in open.iter().filter(|(s, _)| !live.contains(s)) {
                    tracing::debug!(session = %session, "live feed: the session ended; its streams close");
                    w.ended.send_replace(true);
                }
            }
            // An open stream is a use of its session: once a minute their idle ends move on.
            if let Some(idle) = idle
                && touched.elapsed() >= Duration::from_secs(60)
            {
                touched = Instant::now();
                let live: Vec<Uuid> = live.into_iter().collect();
                if let Err(e) = sessions::touch_all(&db, &live, db::now() + idle).await {
                    tracing::warn!(error = %e, "live feed: keeping the streams' sessions in use failed");
                }
            }
        }
    }
}

/// What the hub knows of a gap in the event numbers.
#[derive(Debug, Clone, Copy)]
struct Gap {
    seq: i64,
    /// `xmax` of the snapshot when the gap was first seen.
    fence: Option<i64>,
    since: Instant,
}

/// Follows `ticket_events` and publishes the head.
pub struct Hub {
    db: Db,
    head: i64,
    gap: Option<Gap>,
}

impl Hub {
    /// A hub at the current head of the log.
    pub async fn start(db: Db) -> Result<(Hub, watch::Receiver<i64>, watch::Sender<i64>), DomainError> {
        let mut tx = db.begin().await?;
        let (_, oldest) = feed::bounds(&mut tx).await?;
        tx.commit().await?;
        let mut hub = Hub { db, head: (oldest - 1).max(0), gap: None };
        while hub.advance().await? {}
        let (sender, receiver) = watch::channel(hub.head);
        Ok((hub, receiver, sender))
    }

    /// Moves the head over newly committed events; `true` when a full batch was read (there may
    /// be more right away).
    async fn advance(&mut self) -> Result<bool, DomainError> {
        let mut tx = self.db.begin().await?;
        // The horizon first: any transaction it shows ended has its rows visible to the query
        // after it.
        let horizon = feed::horizon(&mut tx).await?;
        let seqs = feed::seqs_after(&mut tx, self.head, BATCH).await?;
        tx.commit().await?;
        for &seq in &seqs {
            let expected = self.head + 1;
            if seq > expected {
                // A gap seen for the first time is fenced by the transactions running now.
                let gap = match self.gap {
                    Some(g) if g.seq == expected => g,
                    _ => *self.gap.insert(Gap {
                        seq: expected,
                        fence: horizon.map(|(_, xmax)| xmax),
                        since: Instant::now(),
                    }),
                };
                let ended = match (gap.fence, horizon) {
                    (Some(fence), Some((xmin, _))) => xmin >= fence,
                    _ => true,
                };
                let stale = gap.since.elapsed() >= GAP_TIMEOUT;
                if !ended && !stale {
                    return Ok(false);
                }
                if !ended {
                    tracing::warn!(
                        from = expected,
                        to = seq - 1,
                        "live feed: skipping events still uncommitted"
                    );
                }
                self.gap = None;
            }
            self.head = seq;
        }
        Ok(seqs.len() as i64 == BATCH)
    }

    /// Publishes the head until `stop` resolves; then the streams end.
    pub async fn run(mut self, sender: watch::Sender<i64>, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        loop {
            match self.advance().await {
                Ok(more) => {
                    sender.send_if_modified(|h| std::mem::replace(h, self.head) != self.head);
                    if more {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "live feed: reading the change log failed"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// One caller's stream.
struct Follower {
    db: Db,
    heads: watch::Receiver<i64>,
    actor: Actor,
    session_id: Uuid,
    nudge: watch::Receiver<u64>,
    /// The last event number dealt with.
    last: i64,
    /// Whether the stream has started (sent `ready` or `reset`).
    started: bool,
    /// The caller named an event no longer kept.
    resumed_from: Option<i64>,
    queue: VecDeque<Event>,
}

/// The events of a stream: `ready` (id: where the stream starts), `ticket` (the ticket's
/// document), `removed` (`{"id", "ticketId"}` of a ticket the caller no longer sees), and
/// `reset` when `Last-Event-ID` is older than the kept changes (reload the list, then follow);
/// a `retry` field when `nudge` changes.
pub fn follow(
    db: Db,
    heads: watch::Receiver<i64>,
    actor: Actor,
    session_id: Uuid,
    nudge: watch::Receiver<u64>,
    last_event_id: Option<i64>,
) -> impl Stream<Item = Event> + Send + 'static {
    let follower = Follower {
        db,
        heads,
        actor,
        session_id,
        nudge,
        last: last_event_id.unwrap_or(0),
        started: false,
        resumed_from: last_event_id,
        queue: VecDeque::new(),
    };
    stream::unfold(follower, |mut f| async move {
        loop {
            if let Some(event) = f.queue.pop_front() {
                return Some((event, f));
            }
            if !f.started {
                f.started = true;
                match f.start().await {
                    Ok(event) => return Some((event, f)),
                    Err(e) => {
                        tracing::warn!(error = %e, "live feed: starting a stream failed");
                        return None;
                    }
                }
            }
            let head = *f.heads.borrow_and_update();
            if head > f.last {
                match f.read(head).await {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "live feed: reading changes failed; the client reconnects");
                        return None;
                    }
                }
            }
            tokio::select! {
                // The hub stopped: the server shuts down.
                changed = f.heads.changed() => changed.ok()?,
                Ok(()) = f.nudge.changed() => f.queue.push_back(Event::retry(1000)),
            }
        }
    })
    .boxed()
}

impl Follower {
    async fn start(&mut self) -> Result<Event, DomainError> {
        let head = *self.heads.borrow();
        let mut tx = self.db.begin().await?;
        let (newest, oldest) = feed::bounds(&mut tx).await?;
        tx.commit().await?;
        match self.resumed_from {
            // Changes after `from` were pruned, or the id is not one of this installation's.
            Some(from) if from.saturating_add(1) < oldest || from > newest => {
                self.last = head;
                Ok(Event::message("{}").event_type("reset").id(head.to_string()))
            }
            Some(_) => Ok(Event::message("{}").event_type("ready").id(self.last.to_string())),
            None => {
                self.last = head;
                Ok(Event::message("{}").event_type("ready").id(head.to_string()))
            }
        }
    }

    /// Reads the events up to `head` that concern the caller into the queue; `false` when the
    /// session has ended.
    async fn read(&mut self, head: i64) -> Result<bool, DomainError> {
        let upto = head.min(self.last + STREAM_BATCH);
        let now = db::now();
        let mut tx = self.db.begin().await?;
        // The session is checked again on every batch: a logout or a deactivation ends the
        // stream, and a changed role or region applies at once.
        let Some(actor) = sessions::actor(&mut tx, self.session_id, self.actor.id, now).await? else {
            return Ok(false);
        };
        self.actor = actor;
        let events =
            feed::visible(&mut tx, self.actor.role, self.actor.region, self.actor.id, self.last, upto)
                .await?;
        // A ticket changed several times in the batch is sent once, as it is now, at its last
        // event.
        let mut seen = HashSet::new();
        let latest: Vec<_> = events.iter().rev().filter(|e| seen.insert(e.ticket_id)).collect();
        for e in latest.into_iter().rev() {
            let event = if e.sees_now {
                match document::load(&mut tx, e.ticket_id, now).await? {
                    Some(doc) => Event::message(document::to_json(&doc).to_string()).event_type("ticket"),
                    None => continue,
                }
            } else {
                let body = serde_json::json!({ "id": e.ticket_id, "ticketId": e.number });
                Event::message(body.to_string()).event_type("removed")
            };
            self.queue.push_back(event.id(e.seq.to_string()));
        }
        tx.commit().await?;
        self.last = upto;
        Ok(true)
    }
}
