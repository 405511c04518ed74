//! `SerdeObject<T>`: an object documented by its poem-openapi schema but written by serde, for
//! the ticket document, whose JSON form must be exactly the one Firestore and the live feed get.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, Clone)]
pub struct SerdeObject<T>(pub T);

impl<T: Type + Serialize + DeserializeOwned + Send + Sync> Type for SerdeObject<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = T;
    type RawElementValueType = T;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<T: Type + Serialize + DeserializeOwned + Send + Sync> ToJSON for SerdeObject<T> {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.0).ok()
    }
}

impl<T: Type + Serialize + DeserializeOwned + Send + Sync> ParseFromJSON for SerdeObject<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        serde_json::from_value(value.unwrap_or_default()).map(SerdeObject).map_err(ParseError::custom)
    }
}
