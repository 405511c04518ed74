//! `/v1/clients`: customers with their service, network path and ISP.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{
        self, Tx,
        catalog::{self, AREAS, ISPS, MAIN_SPLITTERS, SPLITTERS},
        clients,
    },
    domain::{
        BandwidthUnit, ClientStatus, CustomerType, Region, ServiceType,
        validate::{Checker, LONG_MAX, SHORT_MAX},
    },
};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::catalog::{Area, Isp, Splitter};
use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, Listed, created, found, listed, page_request},
    error::ApiResult,
    state::AppState,
    text::{Coordinate, Long, NotBlank, Short, Text, opt},
};

/// The ISP a client belongs to.
#[derive(Debug, Clone, Object)]
pub struct IspRef {
    pub id: Uuid,
    pub name: String,
    pub initial: String,
    pub brand: String,
}

/// A (main) splitter a client hangs on.
#[derive(Debug, Clone, Object)]
pub struct SplitterRef {
    pub id: Uuid,
    pub name: String,
    pub coordinate: String,
}

/// A client.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Client {
    pub id: Uuid,
    pub cid: String,
    pub customer_type: CustomerType,
    pub pop: Option<String>,
    pub name: String,
    pub user_code: Option<String>,
    pub isp: Option<IspRef>,
    pub status: ClientStatus,
    pub region: Region,
    pub city: Option<Area>,
    pub address: Option<String>,
    pub coordinate: Option<String>,
    pub active_date: Option<DateTime<Utc>>,
    pub service: Option<ServiceType>,
    pub bandwidth: Option<f64>,
    pub bandwidth_unit: Option<BandwidthUnit>,
    pub ms: Option<SplitterRef>,
    pub splitter: Option<SplitterRef>,
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

impl From<clients::ClientRow> for Client {
    fn from(r: clients::ClientRow) -> Self {
        let isp = match (r.isp_id, r.isp_name, r.isp_initial, r.isp_brand) {
            (Some(id), Some(name), Some(initial), Some(brand)) => Some(IspRef { id, name, initial, brand }),
            _ => None,
        };
        let city = match (r.city_id, r.city_name, r.city_region, r.city_initial) {
            (Some(id), Some(name), Some(region), Some(initial)) => {
                Some(Area { id, name, region, initial, created_at: None, updated_at: None })
            }
            _ => None,
        };
        let splitter_ref =
            |id: Option<Uuid>, name: Option<String>, coordinate: Option<String>| match (id, name, coordinate)
            {
                (Some(id), Some(name), Some(coordinate)) => Some(SplitterRef { id, name, coordinate }),
                _ => None,
            };
        Self {
            id: r.id,
            cid: r.cid,
            customer_type: r.customer_type,
            pop: r.pop,
            name: r.name,
            user_code: r.user_code,
            isp,
            status: r.status,
            region: r.region,
            city,
            address: r.address,
            coordinate: r.coordinate,
            active_date: r.active_date,
            service: r.service,
            bandwidth: r.bandwidth,
            bandwidth_unit: r.bandwidth_unit,
            ms: splitter_ref(r.ms_id, r.ms_name, r.ms_coordinate),
            splitter: splitter_ref(r.splitter_id, r.splitter_name, r.splitter_coordinate),
            device_type: r.device_type,
            mac_address: r.mac_address,
            signal: r.signal,
            vlan: r.vlan,
            ip_monitoring: r.ip_monitoring,
            epon: r.epon,
            remark: r.remark,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A client's fields; `isp`, `city`, `ms` and `splitter` are ids of existing rows.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ClientBody {
    pub cid: Text<NotBlank>,
    pub customer_type: CustomerType,
    pub pop: Option<Text<Short>>,
    pub name: Text<NotBlank>,
    pub user_code: Option<Text<Short>>,
    pub isp: Option<Uuid>,
    pub status: ClientStatus,
    pub region: Region,
    /// An area of the client's region.
    pub city: Option<Uuid>,
    pub address: Option<Text<Long>>,
    /// `latitude,longitude`.
    pub coordinate: Option<Text<Coordinate>>,
    pub active_date: Option<DateTime<Utc>>,
    pub service: Option<ServiceType>,
    pub bandwidth: Option<f64>,
    pub bandwidth_unit: Option<BandwidthUnit>,
    pub ms: Option<Uuid>,
    pub splitter: Option<Uuid>,
    pub device_type: Option<Text<Short>>,
    pub mac_address: Option<Text<Short>>,
    pub signal: Option<Text<Short>>,
    pub vlan: Option<Text<Short>>,
    pub ip_monitoring: Option<Text<Short>>,
    pub epon: Option<Text<Short>>,
    pub remark: Option<Text<Long>>,
}

/// Validates a client body and checks that what it references exists.
async fn fields(tx: &mut Tx, b: ClientBody) -> Result<clients::ClientFields, DomainError> {
    let mut check = Checker::new();
    check
        .required("cid", &b.cid)
        .required("name", &b.name)
        .opt_coordinate("coordinate", b.coordinate.as_deref())
        .opt_len("address", b.address.as_deref(), LONG_MAX)
        .opt_len("remark", b.remark.as_deref(), LONG_MAX);
    for (field, value) in [
        ("pop", &b.pop),
        ("userCode", &b.user_code),
        ("deviceType", &b.device_type),
        ("macAddress", &b.mac_address),
        ("signal", &b.signal),
        ("vlan", &b.vlan),
        ("ipMonitoring", &b.ip_monitoring),
        ("epon", &b.epon),
    ] {
        check.opt_len(field, value.as_deref(), SHORT_MAX);
    }
    if b.bandwidth.is_some_and(|bw| !bw.is_finite() || bw < 0.0) {
        check.fail("bandwidth", "must be a non-negative number");
    }
    if let Some(id) = b.isp
        && catalog::get::<Isp>(tx, &ISPS, id).await?.is_none()
    {
        check.fail("isp", "no such ISP");
    }
    if let Some(id) = b.city {
        match catalog::get::<Area>(tx, &AREAS, id).await? {
            None => check.fail("city", "no such area"),
            Some(a) if a.region != b.region => {
                check.fail("city", format!("the area is in {}, not {}", a.region, b.region))
            }
            Some(_) => {}
        }
    }
    for (field, cat, id) in [("ms", &MAIN_SPLITTERS, b.ms), ("splitter", &SPLITTERS, b.splitter)] {
        if let Some(id) = id
            && catalog::get::<Splitter>(tx, cat, id).await?.is_none()
        {
            check.fail(field, format!("no such {}", cat.noun));
        }
    }
    check.finish()?;
    Ok(clients::ClientFields {
        cid: b.cid.trim().to_owned(),
        customer_type: b.customer_type,
        pop: opt(b.pop),
        name: b.name.trim().to_owned(),
        user_code: opt(b.user_code),
        isp_id: b.isp,
        status: b.status,
        region: b.region,
        city_id: b.city,
        address: opt(b.address),
        coordinate: opt(b.coordinate),
        active_date: b.active_date,
        service: b.service,
        bandwidth: b.bandwidth,
        bandwidth_unit: b.bandwidth_unit,
        ms_id: b.ms,
        splitter_id: b.splitter,
        device_type: opt(b.device_type),
        mac_address: opt(b.mac_address),
        signal: opt(b.signal),
        vlan: opt(b.vlan),
        ip_monitoring: opt(b.ip_monitoring),
        epon: opt(b.epon),
        remark: opt(b.remark),
    })
}

pub struct ClientsApi;

#[OpenApi(prefix_path = "/v1/clients", tag = "ApiTags::MasterData")]
impl ClientsApi {
    /// Add a client (SuperAdmin). `cid` is unique.
    #[oai(path = "/", method = "post", operation_id = "createClient")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ClientBody>,
    ) -> ApiResult<Created<Client>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let f = fields(&mut tx, body.0).await?;
        let row = clients::insert(&mut tx, &f, db::now()).await?;
        tx.commit().await?;
        Ok(created(row.into()))
    }

    /// List clients: the SuperAdmin every region's, the NOC, supervisors and technicians their
    /// region's (a `region` filter naming another finds none).
    #[oai(path = "/", method = "get", operation_id = "listClients")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        region: Query<Option<Region>>,
        status: Query<Option<ClientStatus>>,
        #[oai(name = "customerType")] customer_type: Query<Option<CustomerType>>,
        isp: Query<Option<Uuid>>,
        /// Text search in name and cid.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<Client>> {
        let page = page_request(limit.0, offset.0)?;
        let filter = clients::ClientFilter {
            region: region.0,
            visible_region: auth.actor().client_scope().region(),
            status: status.0,
            customer_type: customer_type.0,
            isp_id: isp.0,
            q: q.0,
        };
        let mut tx = state.db.begin().await?;
        let rows = clients::list(&mut tx, &filter, page).await?;
        tx.commit().await?;
        Ok(listed(rows, Client::from))
    }

    /// A client's detail; 404 for a client of a region the caller does not see.
    #[oai(path = "/:id", method = "get", operation_id = "getClient")]
    async fn get(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Client>> {
        let mut tx = state.db.begin().await?;
        let row = clients::get(&mut tx, id.0).await?;
        tx.commit().await?;
        let scope = auth.actor().client_scope();
        let row = row.filter(|r| scope.sees(r.region)).ok_or(DomainError::NotFound("client"))?;
        Ok(found(row.into()))
    }

    /// Update a client (SuperAdmin).
    #[oai(path = "/:id", method = "put", operation_id = "updateClient")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<ClientBody>,
    ) -> ApiResult<Found<Client>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let f = fields(&mut tx, body.0).await?;
        let row =
            clients::update(&mut tx, id.0, &f, db::now()).await?.ok_or(DomainError::NotFound("client"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }

    /// Delete a client (SuperAdmin); 409 while tickets use it.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteClient")]
    async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Client>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let row = clients::delete(&mut tx, id.0).await?.ok_or(DomainError::NotFound("client"))?;
        tx.commit().await?;
        Ok(found(row.into()))
    }
}
