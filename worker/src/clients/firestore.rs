//! Firestore: the ticket documents the apps read live, and the monthly ticket counts.

use std::collections::HashMap;

use anyhow::Context as _;
use common::{
    document::{DATE_FIELDS, LOG_DATE_FIELDS, TicketDocument},
    domain::access::AccessDocument,
};
use firestore::{
    FirestoreDb, FirestoreTransactionOps,
    errors::FirestoreError,
    gcloud_sdk::google::firestore::v1::{
        ArrayValue, Document, MapValue, Value, Write, value::ValueType, write::Operation,
    },
    gcloud_sdk::prost_types::Timestamp,
};
use serde::{Deserialize, Serialize};

/// The contract's `ticketcount/{yyyy-mm}` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCount {
    pub count: i64,
    /// The month's English name, e.g. `November`.
    pub month: String,
    pub year: i64,
}

/// Writes ticket documents to one Firestore project.
#[derive(Clone)]
pub struct FirestoreTickets {
    db: FirestoreDb,
}

impl FirestoreTickets {
    /// Connects to `project_id` (to `FIRESTORE_EMULATOR_HOST` when it is set).
    pub async fn connect(project_id: &str) -> anyhow::Result<Self> {
        let db = FirestoreDb::new(project_id).await.context("connecting to Firestore")?;
        Ok(Self { db })
    }

    fn raw(&self, collection: &str, id: &str, fields: &HashMap<String, Value>) -> anyhow::Result<Document> {
        Ok(Document {
            name: format!("{}/{collection}/{id}", self.db.get_documents_path()),
            fields: fields.clone(),
            ..Default::default()
        })
    }
}

#[async_trait::async_trait]
impl super::TicketStore for FirestoreTickets {
    /// Writes a ticket's document and its month's count in one commit. The document is written
    /// from its JSON form (`document::to_json`, the API's and the live feed's too), nulls kept.
    async fn put(&self, doc: &TicketDocument, month_id: &str, count: &TicketCount) -> anyhow::Result<()> {
        let mut tx = self.db.begin_transaction().await.context("beginning a Firestore commit")?;
        tx.add(Put(self.raw(
            "tickets",
            &doc.id.to_string(),
            &ticket_fields(&common::document::to_json(doc))?,
        )?))?;
        tx.add(Put(self.raw("ticketcount", month_id, &plain_fields(&serde_json::to_value(count)?)?)?))?;
        tx.commit().await.context("committing to Firestore")?;
        Ok(())
    }

    /// Writes a user's `access/{uid}` document.
    async fn put_access(&self, user_id: uuid::Uuid, doc: &AccessDocument) -> anyhow::Result<()> {
        let mut tx = self.db.begin_transaction().await.context("beginning a Firestore commit")?;
        tx.add(Put(self.raw(
            "access",
            &user_id.to_string(),
            &plain_fields(&serde_json::to_value(doc)?)?,
        )?))?;
        tx.commit().await.context("committing to Firestore")?;
        Ok(())
    }
}

/// A ticket document's fields: JSON values, with the contract's `Date` fields (at the top and
/// in each log entry) as Timestamps of the same instant.
fn ticket_fields(json: &serde_json::Value) -> anyhow::Result<HashMap<String, Value>> {
    let serde_json::Value::Object(map) = json else { anyhow::bail!("a document must be a JSON object") };
    map.iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                (k, v) if DATE_FIELDS.contains(&k) => date(k, v)?,
                ("ticketLogs", serde_json::Value::Array(entries)) => {
                    array(entries.iter().map(log_entry).collect::<anyhow::Result<_>>()?)
                }
                (_, v) => value(v),
            };
            Ok((k.clone(), v))
        })
        .collect()
}

/// A log entry, its `Date` fields as Timestamps.
fn log_entry(entry: &serde_json::Value) -> anyhow::Result<Value> {
    let serde_json::Value::Object(fields) = entry else { return Ok(value(entry)) };
    let fields = fields
        .iter()
        .map(|(k, v)| {
            Ok((k.clone(), if LOG_DATE_FIELDS.contains(&k.as_str()) { date(k, v)? } else { value(v) }))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(map_value(fields))
}

/// A document of plain JSON values.
fn plain_fields(json: &serde_json::Value) -> anyhow::Result<HashMap<String, Value>> {
    let serde_json::Value::Object(map) = json else { anyhow::bail!("a document must be a JSON object") };
    Ok(map.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

/// An RFC 3339 string as a Timestamp (to the nanosecond the string shows); null stays null.
fn date(field: &str, v: &serde_json::Value) -> anyhow::Result<Value> {
    let t = match v {
        serde_json::Value::Null => ValueType::NullValue(0),
        serde_json::Value::String(s) => {
            let at = chrono::DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("`{field}` is no date: {s}"))?;
            ValueType::TimestampValue(Timestamp {
                seconds: at.timestamp(),
                nanos: at.timestamp_subsec_nanos() as i32,
            })
        }
        other => anyhow::bail!("`{field}` is no date: {other}"),
    };
    Ok(Value { value_type: Some(t) })
}

fn array(values: Vec<Value>) -> Value {
    Value { value_type: Some(ValueType::ArrayValue(ArrayValue { values })) }
}

fn map_value(fields: HashMap<String, Value>) -> Value {
    Value { value_type: Some(ValueType::MapValue(MapValue { fields })) }
}

/// A JSON value as a Firestore value: nulls stay nulls, whole numbers are integers.
fn value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    let t = match v {
        J::Null => ValueType::NullValue(0),
        J::Bool(b) => ValueType::BooleanValue(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => ValueType::IntegerValue(i),
            None => ValueType::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        J::String(s) => ValueType::StringValue(s.clone()),
        J::Array(a) => return array(a.iter().map(value).collect()),
        J::Object(m) => return map_value(m.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
    };
    Value { value_type: Some(t) }
}

/// A whole-document write (create or replace) for a commit.
struct Put(Document);

impl TryFrom<Put> for Write {
    type Error = FirestoreError;

    fn try_from(p: Put) -> Result<Self, FirestoreError> {
        Ok(Write { operation: Some(Operation::Update(p.0)), ..Default::default() })
    }
}
