//! Statements built at run time: SQL text with each value bound where it stands, on either backend.
//!
//! A query with optional parts pushes its text and its values in one go (`push`, `bind`), so no
//! code keeps placeholder positions: sqlx's `QueryBuilder` numbers them for the backend at the end.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, FromRow, QueryBuilder, Type, postgres::PgRow, sqlite::SqliteRow};
use uuid::Uuid;

use super::{Page, PageRequest, Tx};
use crate::{db_run, error::DomainError};

/// A value to bind. The enums of the domain bind as their names (see `codec.rs`).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(Option<String>),
    Uuid(Option<Uuid>),
    Int(Option<i64>),
    Time(Option<DateTime<Utc>>),
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}

impl From<Uuid> for Arg {
    fn from(v: Uuid) -> Self {
        Arg::Uuid(Some(v))
    }
}

impl From<Option<Uuid>> for Arg {
    fn from(v: Option<Uuid>) -> Self {
        Arg::Uuid(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(Some(v))
    }
}

/// A row type that both backends can read.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Arg(Arg),
}

/// SQL text and its values, in order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    parts: Vec<Part>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Self { parts: vec![Part::Text(text.into())] }
    }

    /// Appends SQL text. Never pass a value here: bind it.
    pub fn push(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.parts.push(Part::Text(text.as_ref().to_owned()));
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.parts.push(Part::Arg(value.into()));
        self
    }

    /// Appends another statement's text and values.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        self.parts.extend(other.parts.iter().cloned());
        self
    }

    /// Appends the values as a comma-separated list of placeholders.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = impl Into<Arg>>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self
    }

    /// Appends ` AND column = value` when `value` is given.
    pub fn and_eq<T: Into<Arg>>(&mut self, column: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.push(format!(" AND {column} = ")).bind(v);
        }
        self
    }

    /// Appends ` AND (LOWER(c) LIKE … OR …)` over `columns` when `q` holds text: a
    /// case-insensitive substring search.
    pub fn and_search(&mut self, columns: &[&str], q: Option<&str>) -> &mut Self {
        if let Some(pattern) = super::like_pattern(q) {
            self.push(" AND (");
            for (i, column) in columns.iter().enumerate() {
                let or = if i > 0 { " OR " } else { "" };
                self.push(format!("{or}LOWER({column}) LIKE ")).bind(pattern.as_str()).push(" ESCAPE '\\'");
            }
            self.push(")");
        }
        self
    }

    fn builder<DB: Database>(&self) -> QueryBuilder<DB>
    where
        Option<String>: for<'q> Encode<'q, DB> + Type<DB>,
        Option<Uuid>: for<'q> Encode<'q, DB> + Type<DB>,
        Option<i64>: for<'q> Encode<'q, DB> + Type<DB>,
        Option<DateTime<Utc>>: for<'q> Encode<'q, DB> + Type<DB>,
    {
        let mut qb = QueryBuilder::<DB>::new("");
        for part in &self.parts {
            match part {
                Part::Text(t) => qb.push(t),
                Part::Arg(Arg::Text(v)) => qb.push_bind(v.clone()),
                Part::Arg(Arg::Uuid(v)) => qb.push_bind(*v),
                Part::Arg(Arg::Int(v)) => qb.push_bind(*v),
                Part::Arg(Arg::Time(v)) => qb.push_bind(*v),
            };
        }
        qb
    }

    /// The text as PostgreSQL gets it (for tests and logs).
    pub fn text_for_postgres(&self) -> String {
        self.builder::<sqlx::Postgres>().sql().as_str().to_owned()
    }

    /// The rows the statement returns.
    pub async fn fetch_all<R: Row>(&self, tx: &mut Tx) -> Result<Vec<R>, DomainError> {
        db_run!(tx, |c| {
            let mut qb = self.builder();
            let rows = qb.build_query_as::<R>().fetch_all(&mut *c).await?;
            Ok(rows)
        })
    }

    /// The one row the statement returns (an error when it returns none).
    pub async fn fetch_one<R: Row>(&self, tx: &mut Tx) -> Result<R, DomainError> {
        db_run!(tx, |c| {
            let mut qb = self.builder();
            let row = qb.build_query_as::<R>().fetch_one(&mut *c).await?;
            Ok(row)
        })
    }

    /// The first row the statement returns, if any.
    pub async fn fetch_optional<R: Row>(&self, tx: &mut Tx) -> Result<Option<R>, DomainError> {
        db_run!(tx, |c| {
            let mut qb = self.builder();
            let row = qb.build_query_as::<R>().fetch_optional(&mut *c).await?;
            Ok(row)
        })
    }

    /// The one integer the statement returns (a count).
    pub async fn fetch_count(&self, tx: &mut Tx) -> Result<i64, DomainError> {
        db_run!(tx, |c| {
            let mut qb = self.builder();
            let n = qb.build_query_scalar::<i64>().fetch_one(&mut *c).await?;
            Ok(n)
        })
    }
}

/// A page of `select` (`SELECT … FROM …`, up to its conditions) with `conditions` (starting
/// with ` WHERE`), ordered by `order`, and how many rows match in all (`SELECT COUNT(*) FROM
/// count_from` with the same conditions).
pub async fn page<R: Row>(
    tx: &mut Tx,
    select: &str,
    count_from: &str,
    conditions: &Sql,
    order: &str,
    page: PageRequest,
) -> Result<Page<R>, DomainError> {
    let mut count = Sql::new(format!("SELECT COUNT(*) FROM {count_from}"));
    count.append(conditions);
    let total = count.fetch_count(tx).await?;
    let mut sql = Sql::new(select);
    sql.append(conditions).push(format!(" ORDER BY {order} LIMIT ")).bind(page.limit);
    sql.push(" OFFSET ").bind(page.offset);
    let items = sql.fetch_all(tx).await?;
    Ok(Page { items, total, total_exact: true, page })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_the_backend() {
        let mut s = Sql::new("SELECT 1 FROM t WHERE a = ");
        s.bind("x").push(" AND b IN (").bind_list([1_i64, 2]).push(")");
        assert_eq!(s.text_for_postgres(), "SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(s.builder::<sqlx::Sqlite>().sql().as_str(), "SELECT 1 FROM t WHERE a = ? AND b IN (?, ?)");
    }

    #[test]
    fn unset_filters_and_blank_searches_add_nothing() {
        let mut s = Sql::new(" WHERE TRUE");
        s.and_eq("a", None::<i64>).and_search(&["b", "c"], Some("  ")).and_eq("d", Some(4_i64));
        s.and_search(&["b", "c"], Some("X_"));
        assert_eq!(
            s.text_for_postgres(),
            " WHERE TRUE AND d = $1 AND (LOWER(b) LIKE $2 ESCAPE '\\' OR LOWER(c) LIKE $3 ESCAPE '\\')"
        );
        assert_eq!(
            s.parts.iter().filter(|p| matches!(p, Part::Arg(Arg::Text(Some(t))) if t == "%x\\_%")).count(),
            2
        );
    }
}
