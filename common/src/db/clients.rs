//! Queries on `clients`, with the referenced ISP, city (area), main splitter and splitter.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Page, PageRequest, Tx, delete_by_id,
    sql::{self, Sql},
};
use crate::{
    db_run,
    domain::{BandwidthUnit, ClientStatus, CustomerType, Region, ServiceType},
    error::DomainError,
};

/// A client row with the names of what it references.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: Uuid,
    pub cid: String,
    pub customer_type: CustomerType,
    pub pop: Option<String>,
    pub name: String,
    pub user_code: Option<String>,
    pub isp_id: Option<Uuid>,
    pub isp_name: Option<String>,
    pub isp_initial: Option<String>,
    pub isp_brand: Option<String>,
    pub status: ClientStatus,
    pub region: Region,
    pub city_id: Option<Uuid>,
    pub city_name: Option<String>,
    pub city_region: Option<Region>,
    pub city_initial: Option<String>,
    pub address: Option<String>,
    pub coordinate: Option<String>,
    pub active_date: Option<DateTime<Utc>>,
    pub service: Option<ServiceType>,
    pub bandwidth: Option<f64>,
    pub bandwidth_unit: Option<BandwidthUnit>,
    pub ms_id: Option<Uuid>,
    pub ms_name: Option<String>,
    pub ms_coordinate: Option<String>,
    pub splitter_id: Option<Uuid>,
    pub splitter_name: Option<String>,
    pub splitter_coordinate: Option<String>,
    pub device_type: Option<String>,
    pub mac_address: Option<String>,
    pub signal: Option<String>,
    pub vlan: Option<String>,
    pub ip_monitoring: Option<String>,
    pub epon: Option<String>,
    pub remark: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields create and update write; references are ids checked by the caller.
#[derive(Debug, Clone)]
pub struct ClientFields {
    pub cid: String,
    pub customer_type: CustomerType,
    pub pop: Option<String>,
    pub name: String,
    pub user_code: Option<String>,
    pub isp_id: Option<Uuid>,
    pub status: ClientStatus,
    pub region: Region,
    pub city_id: Option<Uuid>,
    pub address: Option<String>,
    pub coordinate: Option<String>,
    pub active_date: Option<DateTime<Utc>>,
    pub service: Option<ServiceType>,
    pub bandwidth: Option<f64>,
    pub bandwidth_unit: Option<BandwidthUnit>,
    pub ms_id: Option<Uuid>,
    pub splitter_id: Option<Uuid>,
    pub device_type: Option<String>,
    pub mac_address: Option<String>,
    pub signal: Option<String>,
    pub vlan: Option<String>,
    pub ip_monitoring: Option<String>,
    pub epon: Option<String>,
    pub remark: Option<String>,
}

/// Filters of the client list.
#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    pub region: Option<Region>,
    /// The caller's sight (`access::ClientScope::region`): `None` sees every region.
    pub visible_region: Option<Region>,
    pub status: Option<ClientStatus>,
    pub customer_type: Option<CustomerType>,
    pub isp_id: Option<Uuid>,
    pub q: Option<String>,
}

const SELECT: &str = "SELECT c.id, c.cid, c.customer_type, c.pop, c.name, c.user_code, \
     c.isp_id, i.name AS isp_name, i.initial AS isp_initial, i.brand AS isp_brand, \
     c.status, c.region, c.city_id, a.name AS city_name, a.region AS city_region, a.initial AS city_initial, \
     c.address, c.coordinate, c.active_date, c.service, c.bandwidth, c.bandwidth_unit, \
     c.ms_id, m.name AS ms_name, m.coordinate AS ms_coordinate, \
     c.splitter_id, s.name AS splitter_name, s.coordinate AS splitter_coordinate, \
     c.device_type, c.mac_address, c.signal, c.vlan, c.ip_monitoring, c.epon, c.remark, \
     c.created_at, c.updated_at \
     FROM clients c \
     LEFT JOIN isps i ON i.id = c.isp_id \
     LEFT JOIN areas a ON a.id = c.city_id \
     LEFT JOIN main_splitters m ON m.id = c.ms_id \
     LEFT JOIN splitters s ON s.id = c.splitter_id";

/// Binds the 24 writable columns as `$2..$25` after the id.
macro_rules! bind_fields {
    ($q:expr, $f:expr) => {
        $q.bind(&$f.cid)
            .bind($f.customer_type)
            .bind(&$f.pop)
            .bind(&$f.name)
            .bind(&$f.user_code)
            .bind($f.isp_id)
            .bind($f.status)
            .bind($f.region)
            .bind($f.city_id)
            .bind(&$f.address)
            .bind(&$f.coordinate)
            .bind($f.active_date)
            .bind($f.service)
            .bind($f.bandwidth)
            .bind($f.bandwidth_unit)
            .bind($f.ms_id)
            .bind($f.splitter_id)
            .bind(&$f.device_type)
            .bind(&$f.mac_address)
            .bind(&$f.signal)
            .bind(&$f.vlan)
            .bind(&$f.ip_monitoring)
            .bind(&$f.epon)
            .bind(&$f.remark)
    };
}

pub async fn insert(tx: &mut Tx, f: &ClientFields, now: DateTime<Utc>) -> Result<ClientRow, DomainError> {
    let id = Uuid::now_v7();
    db_run!(tx, |c| {
        let q = sqlx::query(
            "INSERT INTO clients (id, cid, customer_type, pop, name, user_code, isp_id, status, region, \
             city_id, address, coordinate, active_date, service, bandwidth, bandwidth_unit, ms_id, \
             splitter_id, device_type, mac_address, signal, vlan, ip_monitoring, epon, remark, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $26)",
        )
        .bind(id);
        bind_fields!(q, f).bind(now).execute(&mut *c).await?;
    });
    get(tx, id).await?.ok_or(DomainError::NotFound("client"))
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<ClientRow>, DomainError> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, ClientRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn list(tx: &mut Tx, f: &ClientFilter, page: PageRequest) -> Result<Page<ClientRow>, DomainError> {
    let mut conditions = Sql::new(" WHERE TRUE");
    conditions
        .and_eq("c.region", f.region)
        .and_eq("c.status", f.status)
        .and_eq("c.customer_type", f.customer_type)
        .and_eq("c.isp_id", f.isp_id)
        .and_search(&["c.name", "c.cid"], f.q.as_deref())
        .and_eq("c.region", f.visible_region);
    sql::page(tx, SELECT, "clients c", &conditions, "c.name, c.id", page).await
}

pub async fn update(
    tx: &mut Tx,
    id: Uuid,
    f: &ClientFields,
    now: DateTime<Utc>,
) -> Result<Option<ClientRow>, DomainError> {
    let affected = db_run!(tx, |c| {
        let q = sqlx::query(
            "UPDATE clients SET cid = $2, customer_type = $3, pop = $4, name = $5, user_code = $6, \
             isp_id = $7, status = $8, region = $9, city_id = $10, address = $11, coordinate = $12, \
             active_date = $13, service = $14, bandwidth = $15, bandwidth_unit = $16, ms_id = $17, \
             splitter_id = $18, device_type = $19, mac_address = $20, signal = $21, vlan = $22, \
             ip_monitoring = $23, epon = $24, remark = $25, updated_at = $26 WHERE id = $1",
        )
        .bind(id);
        bind_fields!(q, f).bind(now).execute(&mut *c).await?.rows_affected()
    });
    if affected == 0 { Ok(None) } else { get(tx, id).await }
}

/// Deletes a client and returns it; 409 while tickets use it.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<Option<ClientRow>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    // A concurrent delete may have removed it since the read: then it is gone, 404.
    Ok(delete_by_id(tx, "clients", id).await?.then_some(row))
}
