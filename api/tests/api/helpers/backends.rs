//! `on_both_backends!` and the fixtures a test can ask for.

#[allow(unused_imports)]
use super::*;

/// Runs each test on SQLite and on PostgreSQL, each in a runtime of its own, through the real
/// app. The forms:
///
/// - `on_both_backends! { async fn name(app) { … } … }`
/// - `on_both_backends! { with |s| { s.… = …; }; async fn name(app) { … } … }`: the app's
///   settings changed first;
/// - `on_both_backends! { fixture F; async fn name(app, a, b) { … } … }`: with a [`Fixture`]
///   started before the runtime (it may set the process's environment), whose parts the test
///   gets by name (`F` a tuple for two or more); `with` may follow `fixture` too.
#[macro_export]
macro_rules! on_both_backends {
    // The fixture kept for the whole test: by its parts, or whole when the test names none.
    (@bind $f:ident;) => {
        let _fixture = $f;
    };
    (@bind $f:ident; $($arg:ident),+) => {
        let ($(mut $arg),+) = $f;
    };
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends! { fixture (); with |_s| {}; $(async fn $name($app) $body)* }
    };
    (with |$s:ident| $tweak:block; $(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends! { fixture (); with |$s| $tweak; $(async fn $name($app) $body)* }
    };
    (fixture $fx:ty; $(async fn $name:ident($app:ident $(, $arg:ident)*) $body:block)*) => {
        $crate::on_both_backends! { fixture $fx; with |_s| {}; $(async fn $name($app $(, $arg)*) $body)* }
    };
    (fixture $fx:ty; with |$s:ident| $tweak:block; $(async fn $name:ident($app:ident $(, $arg:ident)*) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_mut, unused_parens, unused_variables, clippy::let_unit_value)]
            async fn run($app: $crate::helpers::TestApp, fixture: $fx) {
                $crate::on_both_backends!(@bind fixture; $($arg),*);
                $body
            }

            #[test]
            fn sqlite() {
                $crate::helpers::run_test::<$fx, _>($crate::helpers::Backend::Sqlite, |$s| $tweak, run)
            }

            #[test]
            fn postgres() {
                $crate::helpers::run_test::<$fx, _>($crate::helpers::Backend::Postgres, |$s| $tweak, run)
            }
        }
    )*};
}

/// What a test needs besides the app (a peer, a worker): started before the test's runtime,
/// and what it changes in the app's settings.
pub trait Fixture: Sized {
    fn start() -> Self;
    fn tweak(&self, _settings: &mut Settings) {}
}

impl Fixture for () {
    fn start() -> Self {}
}

/// The app runs its worker, publishing due drafts every second.
pub struct Worker;

impl Fixture for Worker {
    fn start() -> Self {
        Worker
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.publish_schedule = "* * * * * *".into();
    }
}

/// An SMTP sink of the test's own, the app's worker mailing to it.
impl Fixture for MailSink {
    fn start() -> Self {
        MailSink::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{}", self.smtp)));
        s.app_url = Some("https://app.cgs.test/".into());
    }
}

/// A Telegram Bot API emulator of the test's own, the app's worker and bot pointed at it.
impl Fixture for TelegramApi {
    fn start() -> Self {
        TelegramApi::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.telegram_bot_token = Some(Secret::new(self.token.clone()));
        s.telegram_api_url = self.url.clone();
    }
}

/// The worker sweeps SLAs every second, each sweep over every open ticket: a test that moves
/// due times behind the sweep's back sees them at the next second.
pub fn sweep_every_second(s: &mut Settings) {
    s.sla_sweep_schedule = "* * * * * *".into();
    s.sla_full_sweep_minutes = 0;
}

/// A webhook receiver on the loopback, which the app's webhooks may reach; failed deliveries
/// are tried again within a second.
impl Fixture for HookReceiver {
    fn start() -> Self {
        HookReceiver::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.webhook_allow_private = true;
        s.job_retry_max_wait_seconds = 1;
    }
}

/// The SMTP sink and the Bot API emulator together, the app's worker sending on both.
impl Fixture for (MailSink, TelegramApi) {
    fn start() -> Self {
        (MailSink::start(), TelegramApi::start())
    }

    fn tweak(&self, s: &mut Settings) {
        self.0.tweak(s);
        self.1.tweak(s);
    }
}

/// A Firestore emulator of the test's own and a project of the test's own, the app's worker
/// syncing to it. The emulator's address reaches the Firestore client through
/// `FIRESTORE_EMULATOR_HOST`, set before the runtime starts (each test is its own process).
impl Fixture for (Emulator, String) {
    fn start() -> Self {
        let emu = Emulator::start();
        // SAFETY: no other thread runs yet; the test's runtime is built after this.
        unsafe { std::env::set_var("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{}", emu.grpc)) };
        (emu, format!("cgs-test-{}", uuid::Uuid::new_v4().simple()))
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.firestore_project_id = Some(self.1.clone());
        s.sync_reconcile_schedule = "* * * * * *".into();
        // The tests that sweep call the sweep themselves, at the moment they choose.
        s.sla_sweep_schedule = "0 0 0 1 1 *".into();
    }
}

/// A local S3-compatible server with a bucket of the test's own, the app's media store in it.
impl Fixture for S3Server {
    fn start() -> Self {
        S3Server::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.media_s3_bucket = Some(self.bucket.clone());
        s.media_s3_endpoint = Some(format!("http://127.0.0.1:{}", self.port));
        s.media_s3_region = Some("us-east-1".into());
        s.media_s3_access_key_id = Some("test".into());
        s.media_s3_secret_access_key = Some(Secret::new("test"));
    }
}

/// Starts the fixture, then a runtime, then the app on `backend` (skipped where
/// [`spawn_app_with`] skips), and runs `test` with them.
pub fn run_test<X: Fixture, Fut: std::future::Future<Output = ()>>(
    backend: Backend,
    tweak: impl FnOnce(&mut Settings),
    test: impl FnOnce(TestApp, X) -> Fut,
) {
    let fixture = X::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let app = spawn_app_with(backend, |s| {
            fixture.tweak(s);
            tweak(s);
        })
        .await;
        if let Some(app) = app {
            test(app, fixture).await
        }
    });
}
