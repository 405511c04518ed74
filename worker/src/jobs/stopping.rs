//! How a queue's worker stops: it starts no new job, lets the jobs in flight finish while its
//! queue goes on recording them, then stops.
//!
//! The queue's backend (apalis) drives its fetch of jobs, a transaction, only while the worker
//! asks it for the next job, and writes the starts and ends of jobs (through a channel of
//! `4 × batch` entries) only while it is not in the middle of a fetch or a fetched batch. A
//! worker that is paused or stopped asks no more: a fetch under way stays open, which on SQLite
//! holds the database's write lock that the jobs in flight need when they end; and a batch half
//! handed out keeps their ends from being written, so they wait on a full channel. Either way
//! they are left `Running`. [`Draining`] therefore goes on asking until the backend is between
//! batches (a fetch under way ends, the jobs it brings run, a batch is handed out in full), and
//! then asks no more; the worker is stopped once nothing runs.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{WorkerContext, WorkerError};
use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend};
use futures_util::future::BoxFuture;

use crate::Stop;

/// A queue backend that, once `stopping` is set, starts no new fetch once it is between batches.
pub struct Draining<B> {
    inner: B,
    stopping: Arc<AtomicBool>,
    /// Jobs a fetch brings at most.
    batch: usize,
    /// Jobs handed out of the current batch.
    handed: usize,
    /// The last ask was not answered: a fetch may be under way.
    waiting: bool,
}

impl<B> Draining<B> {
    pub fn new(inner: B, stopping: Arc<AtomicBool>, batch: usize) -> Self {
        Self { inner, stopping, batch, handed: 0, waiting: false }
    }
}

impl<B: Backend> Backend for Draining<B> {
    type Task = B::Task;
    type Error = B::Error;

    fn poll_ready(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx, worker)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        // A full batch handed out and no fetch under way: asking again would start a fetch.
        if self.stopping.load(Ordering::SeqCst) && !self.waiting && self.handed >= self.batch {
            return Poll::Pending;
        }
        let next = self.inner.poll_next(cx, worker);
        match &next {
            Poll::Pending => self.waiting = true,
            Poll::Ready(Some(Ok(_))) => {
                if self.waiting {
                    self.handed = 0;
                }
                self.waiting = false;
                self.handed += 1;
            }
            Poll::Ready(_) => self.waiting = false,
        }
        next
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_close(cx, worker)
    }
}

impl<B: BackendConfig> BackendConfig for Draining<B> {
    type Args = B::Args;
    type Id = B::Id;
    type Kind = B::Kind;
    type Config = B::Config;
    type Layer = B::Layer;

    fn config(&self) -> &Self::Config {
        self.inner.config()
    }

    fn middleware(&mut self, worker: &mut WorkerContext) -> Self::Layer {
        self.inner.middleware(worker)
    }
}

impl<B: WireFormatBackend> WireFormatBackend for Draining<B> {
    type Codec = B::Codec;
    type Compact = B::Compact;

    fn codec(&self) -> &Self::Codec {
        self.inner.codec()
    }
}

/// The worker's run: once `stop` turns true, sets `stopping` (see [`Draining`]), waits until no
/// job of the worker runs, and stops it (the queue takes back what it fetched and did not start).
pub fn drain_then_stop(
    stop: Stop,
    stopping: Arc<AtomicBool>,
) -> impl FnMut(WorkerContext) -> BoxFuture<'static, Result<(), WorkerError>> {
    move |ctx| {
        let (mut stop, stopping) = (stop.clone(), stopping.clone());
        Box::pin(async move {
            let _ = stop.wait_for(|s| *s).await;
            stopping.store(true, Ordering::SeqCst);
            // A worker that has not started yet cannot be stopped: wait for its start too.
            while ctx.has_pending_tasks() || ctx.stop().is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(())
        })
    }
}
