//! CORS for web apps on their own origins: the preflights and headers for the origins of
//! `CGS_CORS_ORIGINS`, nothing for the others, and a real headless Chromium on a page of another
//! origin that logs in, creates and accepts a ticket and follows the live feed with its cookie.

use std::time::Duration;

use common::domain::{Region, Role};
use poem::{
    EndpointExt, Route, Server, get, handler,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Html},
};
use reqwest::{Method, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::*;

const APP_ORIGIN: &str = "http://app.cgs.test";

/// The app with `origins` in `CGS_CORS_ORIGINS`; `None` when the backend is not configured.
async fn app_with_origins(backend: Backend, origins: &[&str]) -> Option<TestApp> {
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    spawn_app_with(backend, move |s| s.cors_origins = origins).await
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
        .send()
        .await
        .unwrap()
}

fn header_of(r: &reqwest::Response, name: header::HeaderName) -> Option<&str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn a_listed_origin_gets_its_preflights_and_headers_and_another_none(backend: Backend) {
    let Some(app) = app_with_origins(backend, &[APP_ORIGIN, "https://noc.cgs.test"]).await else { return };
    let r = preflight(&app, "/v1/login", APP_ORIGIN, "POST", "content-type").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(APP_ORIGIN));
    assert_eq!(header_of(&r, header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
    let methods = header_of(&r, header::ACCESS_CONTROL_ALLOW_METHODS).unwrap().to_lowercase();
    assert!(["get", "post", "put", "delete"].iter().all(|m| methods.contains(m)), "{methods}");
    let allowed = header_of(&r, header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap().to_lowercase();
    for h in ["authorization", "content-type", "idempotency-key", "last-event-id"] {
        assert!(allowed.contains(h), "{h} allowed: {allowed}");
    }
    // A preflight with a trailing slash and one for the live feed.
    assert_eq!(
        preflight(&app, "/v1/tickets/", APP_ORIGIN, "POST", "authorization,idempotency-key").await.status(),
        200
    );
    assert_eq!(
        preflight(&app, "/v1/tickets/stream", "https://noc.cgs.test", "GET", "last-event-id").await.status(),
        200
    );

    // Answers to a listed origin carry the headers, errors included, so the app reads them.
    for (token, status) in [(Some(app.admin.as_str()), 200), (None, 401)] {
        let mut req = app.client.get(app.url("/v1/tickets")).header(header::ORIGIN, APP_ORIGIN);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status);
        assert_eq!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(APP_ORIGIN));
        assert_eq!(header_of(&r, header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
        assert!(
            header_of(&r, header::ACCESS_CONTROL_EXPOSE_HEADERS)
                .unwrap()
                .to_lowercase()
                .contains("retry-after")
        );
        assert!(r.headers().get_all(header::VARY).iter().any(|v| v.to_str().unwrap().contains("Origin")));
    }

    // Another origin: its preflight is refused in the error envelope, its requests get no
    // CORS headers (the browser keeps the answer from the page).
    let r = preflight(&app, "/v1/login", "https://evil.example", "POST", "content-type").await;
    assert_eq!(r.status(), 403);
    assert!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["statusCode"], 403);
    let r = app
        .client
        .get(app.url("/v1/tickets"))
        .bearer_auth(&app.admin)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a request without a browser's enforcement is served as ever");
    assert!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(header_of(&r, header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    // A prefix of a listed origin is another origin.
    let r = preflight(&app, "/v1/login", "http://app.cgs.test.evil.example", "POST", "content-type").await;
    assert_eq!(r.status(), 403);
}

async fn without_listed_origins_no_origin_gets_cors_headers(backend: Backend) {
    let Some(app) = app_with_origins(backend, &[]).await else { return };
    let r = preflight(&app, "/v1/login", APP_ORIGIN, "POST", "content-type").await;
    assert_eq!(r.status(), 405, "no preflight is answered");
    assert!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let r = app
        .client
        .get(app.url("/v1/tickets"))
        .bearer_auth(&app.admin)
        .header(header::ORIGIN, APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header_of(&r, header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_gets_its_preflights_and_headers_and_another_none_sqlite() {
    a_listed_origin_gets_its_preflights_and_headers_and_another_none(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_gets_its_preflights_and_headers_and_another_none_postgres() {
    a_listed_origin_gets_its_preflights_and_headers_and_another_none(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_listed_origins_no_origin_gets_cors_headers_sqlite() {
    without_listed_origins_no_origin_gets_cors_headers(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_listed_origins_no_origin_gets_cors_headers_postgres() {
    without_listed_origins_no_origin_gets_cors_headers(Backend::Postgres).await
}

#[test]
fn an_origin_that_is_not_exact_stops_the_start() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (url, _file) = fresh_database(Backend::Sqlite).await.unwrap();
        let mut s = common::config::Settings::with_database(url);
        s.cors_origins = vec!["https://*.cgs.co.id".into()];
        let err = api::build_app(s).await.err().expect("refused");
        assert!(format!("{err:#}").contains("CGS_CORS_ORIGINS"), "{err:#}");
    });
}

/// What a page reports back.
#[derive(Clone)]
struct Reports(mpsc::UnboundedSender<Value>);

/// The page's HTML, written once the API's address is known.
type PageHtml = std::sync::Arc<std::sync::OnceLock<String>>;

#[handler]
fn page(html: Data<&PageHtml>) -> Html<String> {
    Html(html.get().cloned().unwrap_or_default())
}

#[handler]
fn report(reports: Data<&Reports>, body: String) {
    let _ = reports.0.0.send(serde_json::from_str(&body).unwrap_or(json!({"unreadable": body})));
}

/// Serves a page at `/` of a web origin of its own (127.0.0.1, another port than the API's):
/// its origin, the HTML to set, and the reports the page posts to `/report`.
async fn serve_page() -> (String, PageHtml, mpsc::UnboundedReceiver<Value>, tokio::task::JoinHandle<()>) {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let (tx, rx) = mpsc::unbounded_channel();
    let html = PageHtml::default();
    let app =
        Route::new().at("/", get(page)).at("/report", post(report)).data(html.clone()).data(Reports(tx));
    let server = tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor).run(app).await;
    });
    (origin, html, rx, server)
}

/// Opens `url` in headless Chromium (Debian's `chromium`) with a profile of its own, until
/// dropped.
struct Browser {
    child: std::process::Child,
    profile: std::path::PathBuf,
}

impl Browser {
    fn open(url: &str) -> Self {
        let profile = std::env::temp_dir().join(format!("cgs-chromium-{}", uuid::Uuid::new_v4().simple()));
        let child =
            std::process::Command::new(std::env::var("CGS_CHROMIUM").unwrap_or_else(|_| "chromium".into()))
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-extensions",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("chromium (scripts/test.sh installs Debian's package)");
        Self { child, profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The web app's script: log in as the NOC (the cookie is kept), follow the live feed with an
/// `EventSource` that sends only the cookie, create a ticket with the cookie, let the FOC accept
/// it with a bearer token of its own, and wait for the feed to show it accepted.
fn app_page(api: &str, noc: &str, foc: &str) -> String {
    format!(
        r#"<!doctype html><html><body><script>
const api = {api:?};
const json = {{"Content-Type": "application/json"}};
const report = (out) => fetch("/report", {{method: "POST", body: JSON.stringify(out)}});
async function until(check, ms) {{
  const end = Date.now() + ms;
  while (!check()) {{ if (Date.now() > end) throw new Error("timed out"); await new Promise(r => setTimeout(r, 50)); }}
}}
(async () => {{
  const out = {{steps: []}};
  try {{
    let r = await fetch(api + "/v1/login", {{method: "POST", credentials: "include", headers: json,
      body: JSON.stringify({{email: {noc:?}, password: "password123"}})}});
    out.login = r.status; out.steps.push("login");
    const events = [];
    const feed = new EventSource(api + "/v1/tickets/stream", {{withCredentials: true}});
    let ready = false;
    feed.addEventListener("ready", () => {{ ready = true; }});
    feed.addEventListener("ticket", (e) => events.push(JSON.parse(e.data)));
    await until(() => ready, 10000); out.steps.push("feed ready");
    r = await fetch(api + "/v1/tickets/", {{method: "POST", credentials: "include",
      headers: {{...json, "Idempotency-Key": "web-1"}},
      body: JSON.stringify({{type: "Trouble", source: "Whatsapp", indicationCategory: "FiberCut", networkSegment: "Access"}})}});
    out.create = r.status;
    const id = (await r.json()).data.result.id; out.steps.push("created");
    r = await fetch(api + "/v1/login", {{method: "POST", credentials: "omit", headers: json,
      body: JSON.stringify({{email: {foc:?}, password: "password123"}})}});
    const token = (await r.json()).data.token;
    r = await fetch(api + "/v1/tickets/" + id + "/ticketStatus/accept", {{method: "POST",
      headers: {{"Authorization": "Bearer " + token}}}});
    out.accept = r.status; out.steps.push("accepted");
    await until(() => events.some(d => d.id === id && d.latestStatus === "Accepted"), 15000);
    out.feedSawAccepted = true;
    const me = await fetch(api + "/v1/tickets/" + id, {{credentials: "include"}});
    out.read = me.status;
    feed.close();
  }} catch (e) {{ out.error = String(e); }}
  await report(out);
}})();
</script></body></html>"#
    )
}

/// A page of an origin that is not listed: its login cannot even be sent.
fn stranger_page(api: &str) -> String {
    format!(
        r#"<!doctype html><html><body><script>
fetch({api:?} + "/v1/login", {{method: "POST", credentials: "include", headers: {{"Content-Type": "application/json"}},
  body: JSON.stringify({{email: "nobody@cgs.test", password: "password123"}})}})
  .then(r => ({{status: r.status}}), e => ({{error: String(e)}}))
  .then(out => fetch("/report", {{method: "POST", body: JSON.stringify(out)}}));
</script></body></html>"#
    )
}

async fn next_report(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the page reports within a minute")
        .unwrap()
}

async fn browser_run(backend: Backend) {
    // The pages' origins are bound first: the app lists the first, and only it.
    let (origin, html, mut reports, _page) = serve_page().await;
    let (stranger, stranger_html, mut refused, _other) = serve_page().await;
    let listed = origin.clone();
    let Some(app) = spawn_app_with(backend, move |s| s.cors_origins = vec![listed]).await else { return };
    let api = format!("http://{}", app.addr);
    let short = || uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let emails = (format!("noc-{}@cgs.test", short()), format!("foc-{}@cgs.test", short()));
    html.set(app_page(&api, &emails.0, &emails.1)).unwrap();
    stranger_html.set(stranger_page(&api)).unwrap();
    for (email, role) in [(&emails.0, Role::NOC), (&emails.1, Role::FOC)] {
        app.post(
            "/v1/users",
            &app.admin,
            json!({"email": email, "password": PASSWORD, "rePassword": PASSWORD,
            "nik": email, "name": format!("{role} web"), "role": role, "region": Region::West}),
        )
        .await
        .expect(201);
    }
    let _browser = Browser::open(&format!("{origin}/"));
    let out = next_report(&mut reports).await;
    assert_eq!(out.get("error"), None, "the web app ran through: {out}");
    assert_eq!(
        (out["login"].as_i64(), out["create"].as_i64(), out["accept"].as_i64(), out["read"].as_i64()),
        (Some(200), Some(201), Some(201), Some(200)),
        "{out}"
    );
    assert_eq!(out["feedSawAccepted"], true, "{out}");
    let _stranger = Browser::open(&format!("{stranger}/"));
    let out = next_report(&mut refused).await;
    assert_eq!(out["error"], "TypeError: Failed to fetch", "an origin not listed cannot call the API: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_app_on_its_own_origin_works_in_chromium_and_another_origin_is_refused_sqlite() {
    browser_run(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_app_on_its_own_origin_works_in_chromium_and_another_origin_is_refused_postgres() {
    browser_run(Backend::Postgres).await
}
