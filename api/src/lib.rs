//! The HTTP API of CGS Ticketing. `build_app` is used by `main` and by the tests alike.

pub mod auth;
pub mod cli;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod feed;
pub mod hardening;
pub mod idempotency;
pub mod limits;
pub mod media_store;
pub mod observe;
pub mod openapi;
pub mod optional_json;
pub mod routes;
pub mod serde_object;
pub mod state;
pub mod text;
pub mod throttle;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use common::{
    auth::TokenKeys,
    config::Settings,
    db::{self, Db},
};
use poem::{
    Endpoint, EndpointExt, Route, Server,
    listener::{Acceptor, Listener, TcpListener},
    middleware::{CatchPanic, NormalizePath, TrailingSlash},
};
use poem_openapi::{OpenApiService, Tags};

use crate::{
    auth::AuthApi,
    routes::{
        admin::AdminApi,
        catalog::{AreasApi, IndicationsApi, IspsApi, MainSplittersApi, SplittersApi},
        clients::ClientsApi,
        health::HealthApi,
        media::MediaApi,
        outages::OutagesApi,
        reports::ReportsApi,
        tickets::TicketsApi,
        users::UsersApi,
        validations::ValidationsApi,
        webhooks::WebhooksApi,
    },
    state::AppState,
};

/// How long a stopping server waits for in-flight requests.
pub const HTTP_DRAIN: Duration = Duration::from_secs(20);

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Tags)]
pub enum ApiTags {
    /// Login and logout.
    Auth,
    /// User accounts.
    Users,
    /// Areas, splitters, ISPs, indications and clients.
    MasterData,
    /// Tickets and their status flow.
    Tickets,
    /// Reports over tickets.
    Reports,
    /// Webhooks that let other systems follow tickets.
    Webhooks,
    /// Health and readiness.
    Operations,
}

type Apis = (
    AuthApi,
    UsersApi,
    AreasApi,
    MainSplittersApi,
    SplittersApi,
    IspsApi,
    IndicationsApi,
    ClientsApi,
    TicketsApi,
    OutagesApi,
    ValidationsApi,
    MediaApi,
    ReportsApi,
    AdminApi,
    WebhooksApi,
    HealthApi,
);

/// The OpenAPI service with every operation.
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AuthApi,
            UsersApi,
            AreasApi,
            MainSplittersApi,
            SplittersApi,
            IspsApi,
            IndicationsApi,
            ClientsApi,
            TicketsApi,
            OutagesApi,
            ValidationsApi,
            MediaApi,
            ReportsApi,
            AdminApi,
            WebhooksApi,
            HealthApi,
        ),
        "CGS Ticketing API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Trouble and maintenance tickets of a fiber network, from the NOC to the field technicians.")
    .server(poem_openapi::ServerObject::new("https://api-ticket-system.cgs.co.id").description("production"))
    .license(poem_openapi::LicenseObject::new("Proprietary"))
}

/// The OpenAPI document as served at `/openapi.json` and committed as `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&api_service().spec()).expect("poem-openapi writes JSON");
    openapi::allow_null(&mut doc);
    openapi::describe_event_streams(&mut doc);
    serde_json::to_string_pretty(&doc).expect("JSON")
}

/// The shortest `CGS_JWT_SECRET` accepted: HS256 wants a key as long as its hash (RFC 7518).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A built app: its state and a bound listener, ready to run.
pub struct Application {
    pub state: AppState,
    addr: SocketAddr,
    acceptor: poem::listener::TcpAcceptor,
    hub: (feed::Hub, tokio::sync::watch::Sender<i64>),
}

/// Connects the database, migrates it, loads the signing key, creates the first SuperAdmin, and
/// binds the listener.
pub async fn build_app(mut settings: Settings) -> anyhow::Result<Application> {
    settings.cors_origins = cors::parse_origins(&settings.cors_origins)?;
    let db = Db::connect(&settings.database_url, settings.db_max_connections).await?;
    db.migrate().await?;
    let secret = match &settings.jwt_secret {
        Some(s) if s.expose().len() < MIN_JWT_SECRET_BYTES => anyhow::bail!(
            "CGS_JWT_SECRET has {} bytes; a signing secret needs at least {MIN_JWT_SECRET_BYTES} \
             (`openssl rand -base64 48` makes one), or leave it unset to keep a generated one in the database",
            s.expose().len()
        ),
        Some(s) => s.expose().to_owned(),
        None => {
            let mut tx = db.begin_write().await?;
            let s =
                db::settings::get_or_insert(&mut tx, "jwt_secret", &common::auth::generate_secret()).await?;
            tx.commit().await?;
            s
        }
    };
    let firebase = match &settings.firebase_service_account {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("reading CGS_FIREBASE_SERVICE_ACCOUNT {}", path.display()))?;
            Some(common::auth::FirebaseSigner::from_service_account(&json)?)
        }
        None => None,
    };
    let (hub, heads, head_sender) = feed::Hub::start(db.clone()).await?;
    let throttle = Arc::new(throttle::LoginThrottle::new(settings.login_per_address_per_minute));
    let media = media_store::MediaStore::from_settings(&settings)?;
    let sessions =
        db::session_cache::SessionCache::start(&db, Duration::from_secs(settings.session_cache_seconds));
    let state = AppState {
        sessions,
        db,
        keys: TokenKeys::new(secret.as_bytes()),
        settings: Arc::new(settings),
        firebase,
        requests: Arc::new(observe::RequestMetrics::new(
            <Apis as poem_openapi::OpenApi>::meta()
                .iter()
                .flat_map(|a| a.paths.iter())
                .map(|p| (p.path.as_str(), p.operations.iter().map(|o| o.method.to_string()).collect())),
        )),
        feed: heads,
        draining: Arc::default(),
        gauges: Arc::default(),
        streams: Arc::default(),
        throttle,
        media,
    };
    auth::ensure_admin(&state).await?;
    let acceptor = TcpListener::bind(state.settings.listen)
        .into_acceptor()
        .await
        .with_context(|| format!("binding {}", state.settings.listen))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("reading the bound address")?;
    Ok(Application { state, addr, acceptor, hub: (hub, head_sender) })
}

/// The endpoint tree: the API, its document, Swagger UI, and the error envelope around all.
pub fn endpoint(state: AppState) -> impl Endpoint {
    let api = api_service();
    let document = openapi_json();
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(document.clone())
    });
    let docs = api.swagger_ui();
    let requests = state.requests.clone();
    let draining = state.draining.clone();
    let origins = cors::WebOrigins(state.settings.cors_origins.clone());
    Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .around(limits::limit_body)
        .around(auth::surface_outage)
        .with(CatchPanic::new().with_handler(error::on_panic))
        .around(move |ep, req| observe::observe(ep, req, requests.clone()))
        .catch_all_error(|err| async move { error::render(err) })
        .after(move |resp| {
            let draining = draining.clone();
            async move {
                let mut resp = resp?;
                if draining.load(std::sync::atomic::Ordering::SeqCst) {
                    resp.headers_mut().insert(
                        poem::http::header::CONNECTION,
                        poem::http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, poem::Error>(resp)
            }
        })
        .around(hardening::security_headers)
        // A trailing slash never changes the answer: `/v1/indications/` is `/v1/indications`.
        .with(NormalizePath::new(TrailingSlash::Trim))
        .with(origins)
        .data(state)
}

impl Application {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves; then answers `/readyz` with 503 and closes connections
    /// after each response for `CGS_SHUTDOWN_GRACE_SECONDS`, closes the listener, and lets
    /// in-flight requests finish (up to [`HTTP_DRAIN`]) and the worker its jobs (up to
    /// [`worker::DRAIN`]). On SQLite, or with
    /// `CGS_RUN_WORKER`, the background worker runs in this process too.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let db = self.state.db.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let in_process = matches!(db, Db::Sqlite(..)) || self.state.settings.run_worker;
        let worker = match in_process {
            true => {
                let ctx = worker::Context::new(db.clone(), self.state.settings.clone())
                    .await
                    .map_err(|e| std::io::Error::other(format!("starting the worker: {e:#}")))?;
                let mut stopped = stopped.clone();
                Some(tokio::spawn(worker::run(ctx, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })))
            }
            false => None,
        };
        let (hub, heads) = self.hub;
        let draining = self.state.draining.clone();
        let grace = Duration::from_secs(self.state.settings.shutdown_grace_seconds);
        let mut hub_stopped = stopped.clone();
        let hub = tokio::spawn(hub.run(heads, async move {
            let _ = hub_stopped.wait_for(|s| *s).await;
        }));
        let mut sweep_stopped = stopped.clone();
        let idle = self.state.settings.session_idle();
        let sweep = tokio::spawn(self.state.streams.clone().sweep(db.clone(), idle, async move {
            let _ = sweep_stopped.wait_for(|s| *s).await;
        }));
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                endpoint(self.state),
                async move {
                    shutdown.await;
                    draining.store(true, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(grace).await;
                    let _ = stop.send(true);
                },
                Some(HTTP_DRAIN),
            )
            .await;
        tracing::info!("requests drained");
        let _ = hub.await;
        let _ = sweep.await;
        if let Some(w) = worker {
            match w.await {
                Ok(Err(e)) => tracing::error!(error = %e, "the worker failed"),
                Err(e) => tracing::error!(error = %e, "the worker panicked"),
                Ok(Ok(())) => {}
            }
        }
        // Anything still holding a connection (a job left running past the drain) is cut off.
        if tokio::time::timeout(Duration::from_secs(3), db.close()).await.is_err() {
            tracing::warn!("database connections still busy after the drain; closing anyway");
        }
        result
    }
}
