//! The catalogue tables: areas, ISPs, indications, main splitters and splitters. Each is an id,
//! a few text columns and two timestamps, so one set of queries serves them all; the row type
//! is the caller's (any type both backends can read from those columns).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Page, PageRequest, Tx,
    sql::{self, Arg, Row, Sql},
};
use crate::{domain::Region, error::DomainError};

/// One catalogue table.
#[derive(Debug)]
pub struct Catalog {
    pub table: &'static str,
    /// The noun of its rows in messages (`no such area`, 404 `area`).
    pub noun: &'static str,
    /// The columns a client writes, in the order of the values given to `insert` and `update`.
    pub columns: &'static [&'static str],
    /// The column the list filters on by equality (a region, a category), if any.
    pub filter: Option<&'static str>,
    /// The columns the list's text search reads.
    pub search: &'static [&'static str],
    /// The list's order (ending in `id`, so pages never overlap).
    pub order: &'static str,
}

pub const AREAS: Catalog = Catalog {
    table: "areas",
    noun: "area",
    columns: &["region", "name", "initial"],
    filter: Some("region"),
    search: &["name"],
    order: "region, name, id",
};

pub const ISPS: Catalog = Catalog {
    table: "isps",
    noun: "isp",
    columns: &["name", "initial", "brand"],
    filter: None,
    search: &["name", "initial", "brand"],
    order: "name, id",
};

pub const INDICATIONS: Catalog = Catalog {
    table: "indications",
    noun: "indication",
    columns: &["category", "indication"],
    filter: Some("category"),
    search: &["indication"],
    order: "category, indication, id",
};

pub const MAIN_SPLITTERS: Catalog = Catalog {
    table: "main_splitters",
    noun: "main splitter",
    columns: &["name", "coordinate"],
    filter: None,
    search: &["name"],
    order: "name, id",
};

pub const SPLITTERS: Catalog = Catalog {
    table: "splitters",
    noun: "splitter",
    columns: &["name", "coordinate"],
    filter: None,
    search: &["name"],
    order: "name, id",
};

impl Catalog {
    fn select(&self) -> String {
        format!("SELECT id, {}, created_at, updated_at FROM {}", self.columns.join(", "), self.table)
    }

    fn returning(&self) -> String {
        format!(" RETURNING id, {}, created_at, updated_at", self.columns.join(", "))
    }

    /// The list's conditions: the filter, then the text search over its columns.
    fn conditions(&self, filter: Option<Arg>, q: Option<&str>) -> Sql {
        let mut sql = Sql::new(" WHERE TRUE");
        if let Some(column) = self.filter {
            sql.and_eq(column, filter);
        }
        sql.and_search(self.search, q);
        sql
    }
}

/// Adds a row with `values` for the catalogue's columns.
pub async fn insert<R: Row>(
    tx: &mut Tx,
    cat: &Catalog,
    values: Vec<Arg>,
    now: DateTime<Utc>,
) -> Result<R, DomainError> {
    debug_assert_eq!(values.len(), cat.columns.len());
    let mut sql = Sql::new(format!(
        "INSERT INTO {} (id, {}, created_at, updated_at) VALUES (",
        cat.table,
        cat.columns.join(", ")
    ));
    sql.bind(Uuid::now_v7()).push(", ").bind_list(values).push(", ").bind(now).push(", ").bind(now).push(")");
    sql.push(cat.returning());
    sql.fetch_one(tx).await
}

pub async fn get<R: Row>(tx: &mut Tx, cat: &Catalog, id: Uuid) -> Result<Option<R>, DomainError> {
    let mut sql = Sql::new(cat.select());
    sql.push(" WHERE id = ").bind(id);
    sql.fetch_optional(tx).await
}

/// The area of that name in that region (names are unique within a region).
pub async fn area_named<R: Row>(tx: &mut Tx, region: Region, name: &str) -> Result<Option<R>, DomainError> {
    let mut sql = Sql::new(AREAS.select());
    sql.push(" WHERE region = ").bind(region).push(" AND name = ").bind(name);
    sql.fetch_optional(tx).await
}

/// A page of rows, optionally of one `filter` value and matching the text `q`.
pub async fn list<R: Row>(
    tx: &mut Tx,
    cat: &Catalog,
    filter: Option<Arg>,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<R>, DomainError> {
    sql::page(tx, &cat.select(), cat.table, &cat.conditions(filter, q), cat.order, page).await
}

/// Sets the catalogue's columns of a row to `values`; `None` when there is no such row.
pub async fn update<R: Row>(
    tx: &mut Tx,
    cat: &Catalog,
    id: Uuid,
    values: Vec<Arg>,
    now: DateTime<Utc>,
) -> Result<Option<R>, DomainError> {
    debug_assert_eq!(values.len(), cat.columns.len());
    let mut sql = Sql::new(format!("UPDATE {} SET ", cat.table));
    for (column, value) in cat.columns.iter().zip(values) {
        sql.push(format!("{column} = ")).bind(value).push(", ");
    }
    sql.push("updated_at = ").bind(now).push(" WHERE id = ").bind(id).push(cat.returning());
    sql.fetch_optional(tx).await
}

/// Deletes a row and returns it; 409 `in_use` while other rows refer to it.
pub async fn delete<R: Row>(tx: &mut Tx, cat: &Catalog, id: Uuid) -> Result<Option<R>, DomainError> {
    let mut sql = Sql::new(format!("DELETE FROM {} WHERE id = ", cat.table));
    sql.bind(id).push(cat.returning());
    sql.fetch_optional(tx).await
}
