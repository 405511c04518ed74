//! The operator's subcommands of `cgs-api`, beside `serve`.

use anyhow::{Context, bail};
use common::{
    auth::hash_password,
    config::{Secret, Settings},
    db::{self, Db, PageRequest, failed_jobs, tickets, users},
    domain::{
        Region, Role,
        validate::{Checker, normalize_email},
    },
    jobs::enqueue_syncs,
};

async fn open(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url, 2).await?;
    db.migrate().await?;
    Ok(db)
}

/// Creates a SuperAdmin (there may be several).
pub async fn create_admin(
    settings: &Settings,
    email: &str,
    password: &Secret,
    name: &str,
    nik: &str,
) -> anyhow::Result<()> {
    Checker::new()
        .email("email", email)
        .password(password.expose(), password.expose())
        .required("name", name)
        .required("nik", nik)
        .finish()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let db = open(settings).await?;
    let fields = users::UserFields {
        email: normalize_email(email),
        nik: nik.to_owned(),
        name: name.to_owned(),
        role: Role::SuperAdmin,
        region: Region::West,
        area_id: None,
        profile_photo: None,
        phone_number: None,
    };
    let hash = hash_password(password.expose().to_owned()).await?;
    let mut tx = db.begin_write().await?;
    let user = users::insert(&mut tx, &fields, &hash, db::now()).await.context("creating the SuperAdmin")?;
    settings.effects().user_changed(&mut tx, &[user.id]).await?;
    tx.commit().await?;
    println!("created SuperAdmin {} ({})", user.email, user.id);
    Ok(())
}

/// Enqueues the Firestore sync of every ticket and of every user's access document.
pub async fn resync(settings: &Settings) -> anyhow::Result<()> {
    if settings.firestore_project_id.is_none() {
        bail!("FIRESTORE_PROJECT_ID is not set: there is no Firestore to sync to");
    }
    let db = open(settings).await?;
    let (mut after, mut total) = (None, 0usize);
    loop {
        let mut tx = db.begin_write().await?;
        let ids = tickets::ids_after(&mut tx, after, 500).await?;
        enqueue_syncs(&mut tx, &ids).await?;
        tx.commit().await?;
        total += ids.len();
        match ids.last() {
            Some(last) => after = Some(*last),
            None => break,
        }
    }
    let mut tx = db.begin_write().await?;
    let everyone = users::all_ids(&mut tx).await?;
    settings.effects().user_changed(&mut tx, &everyone).await?;
    tx.commit().await?;
    println!("enqueued the sync of {total} tickets and of {} users' access", everyone.len());
    Ok(())
}

/// Prints the jobs that used up their attempts.
pub async fn failed(settings: &Settings) -> anyhow::Result<()> {
    let db = open(settings).await?;
    let mut tx = db.begin().await?;
    let page = failed_jobs::list(&mut tx, PageRequest { limit: 100, offset: 0 }).await?;
    tx.commit().await?;
    if page.items.is_empty() {
        println!("no failed jobs");
    }
    for j in &page.items {
        println!(
            "{}\t{}\t{}/{}\t{}\t{}",
            j.id,
            j.queue,
            j.attempts,
            j.max_attempts,
            j.payload,
            j.last_result.as_deref().unwrap_or("")
        );
    }
    if page.total > page.items.len() as i64 {
        println!("... {} in all", page.total);
    }
    Ok(())
}

/// Puts a failed job back in its queue.
pub async fn retry(settings: &Settings, id: &str) -> anyhow::Result<()> {
    let db = open(settings).await?;
    let mut tx = db.begin_write().await?;
    if !failed_jobs::retry(&mut tx, id).await? {
        bail!("no failed job {id}");
    }
    tx.commit().await?;
    println!("job {id} is queued again");
    Ok(())
}

/// `healthcheck`: asks the server at `CGS_LISTEN` (the loopback when it listens on every
/// address) for `/readyz`; succeeds on 200. For container health checks: no shell or curl
/// needed in the image.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut addr = settings.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(3);
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("connecting {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(format!("GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).context("reading the answer")?;
    let status = String::from_utf8_lossy(&head[9..12]).into_owned();
    if status != "200" {
        bail!("/readyz answered {status}");
    }
    println!("ready");
    Ok(())
}
