//! The test app's requests, answers and checks (leftover jobs, shutdown).

#[allow(unused_imports)]
use super::*;

impl TestApp {
    /// Says that the test means to leave jobs of `queue` behind: without a worker, jobs it
    /// enqueues; with one, jobs that failed for good. Any other such job fails the test when the
    /// app is dropped.
    pub fn expect_jobs(&self, queue: &'static str) {
        self.expected_jobs.lock().unwrap().push(queue);
    }

    /// The jobs of queues the test did not expect that are left: any (without a worker) or
    /// those failed for good (with one). Read on a thread of its own, as `Drop` runs inside the
    /// test's runtime.
    pub fn left_over_jobs(&self) -> Vec<(String, String, i64)> {
        let expected = self.expected_jobs.lock().unwrap().clone();
        let (url, table, worker) = (self.db_url.clone(), self.jobs_table(), self.runs_worker);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                let failed = if worker {
                    " AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))"
                } else {
                    " AND status <> 'Done'"
                };
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT job_type, status, CAST(attempts AS BIGINT) FROM {table} WHERE job_type LIKE 'cgs.%'{failed}"
                ));
                // A database the test took away (the chaos tests stop PostgreSQL) is not read.
                let rows: Vec<(String, String, i64)> = if url.starts_with("sqlite:") {
                    let Ok(mut c) = sqlx::SqliteConnection::connect(&url).await else { return Vec::new() };
                    sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
                } else {
                    let Ok(mut c) = sqlx::PgConnection::connect(&url).await else { return Vec::new() };
                    sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
                };
                rows.into_iter().filter(|(queue, _, _)| !expected.contains(&queue.as_str())).collect()
            })
        })
        .join()
        .unwrap()
    }

    /// Stops the app as SIGTERM would and waits until it has let go of its database.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Runs one SQL statement on the test's database (both backends take `$n`-free SQL here).
    pub async fn exec(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.db_url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }

    /// Runs one SQL query that answers a single integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        db_scalar(&self.db_url, sql).await
    }

    /// A UUID literal as the backend stores it.
    pub fn sql_uuid(&self, id: &str) -> String {
        if self.is_postgres() { format!("'{id}'") } else { format!("X'{}'", id.replace('-', "")) }
    }

    /// Sets a ticket's SLA due time `minutes` from now (negative: past), behind the API's back.
    pub async fn set_due(&self, id: &str, minutes: i64) {
        let at = (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        self.exec(&format!("UPDATE tickets SET sla_due_at = '{at}' WHERE id = {}", self.sql_uuid(id))).await;
    }

    /// Every job of `queue` still waiting is due now.
    pub async fn due_now(&self, queue: &str) {
        let now = if self.is_postgres() { "now()" } else { "strftime('%s', 'now')" };
        let table = self.jobs_table();
        self.exec(&format!(
            "UPDATE {table} SET run_at = {now} WHERE job_type = '{queue}' AND status <> 'Done'"
        ))
        .await;
    }

    /// A new ticket of `noc` for a new customer `name` with an SLA (`PT Client <name>`).
    pub async fn sla_ticket(&self, noc: &str, name: &str) -> String {
        let client = self
            .post("/v1/clients", &self.admin, crate::master_data::client_body(self, name).await)
            .await
            .id();
        let body = serde_json::json!({"client": client, "type": "Trouble", "source": "Phone",
                                      "indicationCategory": "FiberCut", "networkSegment": "Access"});
        self.post("/v1/tickets", noc, body).await.id()
    }

    /// The value of one series of `/metrics` (as fresh as its interval allows).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.client.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    pub fn is_postgres(&self) -> bool {
        self.db_url.starts_with("postgres")
    }

    /// The job queue's table on this backend.
    pub fn jobs_table(&self) -> &'static str {
        if self.is_postgres() { "apalis.jobs" } else { "Jobs" }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.expect("request sent")).await
    }

    pub async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, headers }
    }

    /// Uploads a photo as `token`: `POST /v1/media` with the bytes and their `Content-Type`.
    pub async fn upload(&self, token: &str, content_type: &str, bytes: Vec<u8>) -> Answer {
        let req = self
            .client
            .post(self.url("/v1/media"))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        Self::answer(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let a = self
            .send(Method::POST, "/v1/login", None, Some(json!({"email": email, "password": password})))
            .await;
        a.expect(200);
        a.body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Approves, as `token` (a NOC's), the latest request of ticket `id` that waits for the NOC.
    pub async fn approve_request(&self, token: &str, id: &str) {
        self.decide_request(token, id, true, None).await;
    }

    /// Approves or rejects, as `token` (a NOC's), with an optional remark, the latest request of
    /// ticket `id` that waits for the NOC.
    pub async fn decide_request(&self, token: &str, id: &str, approved: bool, remark: Option<&str>) {
        let d = self.get(&format!("/v1/tickets/{id}"), &self.admin).await.result().clone();
        let ev = d["ticketLogs"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l["cardType"] == "RequestValidationAction" || l["cardType"] == "FinishingAction")
            .unwrap_or_else(|| panic!("no request waits: {d}"))["evidenceId"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = remark.map(|r| json!({"approvalRemark": r}));
        self.send(Method::POST, &format!("/v1/tickets/{id}/validate/{ev}/{approved}"), Some(token), body)
            .await
            .expect(200);
    }

    /// Creates an area as the admin; returns its id.
    pub async fn area(&self, region: Region, name: &str) -> String {
        let a = self
            .post(
                "/v1/areas",
                &self.admin,
                json!({"region": region, "name": name, "initial": &name[..3.min(name.len())]}),
            )
            .await;
        a.expect(201);
        a.id()
    }

    /// Creates a user of a role and region as the admin and logs it in: (id, token).
    pub async fn user(&self, role: Role, region: Region) -> (String, String) {
        self.user_mailed(role, region, &role.as_str().to_lowercase()).await
    }

    /// [`TestApp::user`] whose address starts with `prefix` and a dash.
    pub async fn user_mailed(&self, role: Role, region: Region, prefix: &str) -> (String, String) {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let email = format!("{prefix}-{}@cgs.test", &n[..8]);
        let a = self
            .post(
                "/v1/users",
                &self.admin,
                json!({"email": email, "password": PASSWORD, "rePassword": PASSWORD, "nik": n,
                       "name": format!("{role} {region}"), "role": role, "region": region}),
            )
            .await;
        a.expect(201);
        let token = self.login(&email, PASSWORD).await;
        (a.id(), token)
    }
}
