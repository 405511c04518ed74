//! Firestore: the ticket documents the apps read live, and the monthly ticket counts.

use anyhow::Context as _;
use common::document::TicketDocument;
use firestore::{
    FirestoreDb, FirestoreTransactionOps,
    errors::FirestoreError,
    gcloud_sdk::google::firestore::v1::{
        ArrayValue, Document, MapValue, Value, Write, value::ValueType, write::Operation,
    },
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

    /// Writes a ticket's document and its month's count in one commit. The document is written
    /// from its JSON form (`document::to_json`, the API's and the live feed's too), nulls kept.
    pub async fn put(&self, doc: &TicketDocument, month_id: &str, count: &TicketCount) -> anyhow::Result<()> {
        let mut tx = self.db.begin_transaction().await.context("beginning a Firestore commit")?;
        tx.add(Put(self.raw("tickets", &doc.id.to_string(), &common::document::to_json(doc))?))?;
        tx.add(Put(self.raw("ticketcount", month_id, &serde_json::to_value(count)?)?))?;
        tx.commit().await.context("committing to Firestore")?;
        Ok(())
    }

    fn raw(&self, collection: &str, id: &str, json: &serde_json::Value) -> anyhow::Result<Document> {
        let serde_json::Value::Object(map) = json else { anyhow::bail!("a document must be a JSON object") };
        Ok(Document {
            name: format!("{}/{collection}/{id}", self.db.get_documents_path()),
            fields: map.iter().map(|(k, v)| (k.clone(), value(v))).collect(),
            ..Default::default()
        })
    }
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
        J::Array(a) => ValueType::ArrayValue(ArrayValue { values: a.iter().map(value).collect() }),
        J::Object(m) => {
            ValueType::MapValue(MapValue { fields: m.iter().map(|(k, v)| (k.clone(), value(v))).collect() })
        }
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
