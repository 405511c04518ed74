//! `Text`: a JSON string and nothing else. poem-openapi's `String` also takes numbers and
//! booleans (`42` becomes `"42"`); request bodies use `Text` so a wrong type answers 400, and so
//! does a control character (NUL and the like; tab and line breaks are text).
//!
//! `Text<R>` states in the OpenAPI document the rule `R` that the handler's `Checker` applies
//! to the field (lengths, not blank, a coordinate, an email), with the same constants, so that
//! generated clients and forms can check input before sending it.

use std::{borrow::Cow, fmt, marker::PhantomData, ops::Deref};

use common::domain::validate::{COORDINATE_PATTERN, LONG_MAX, PASSWORD_MAX, PASSWORD_MIN, SHORT_MAX};
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A rule a text field follows, as the document states it.
pub trait Rule: Send + Sync + 'static {
    fn state(schema: &mut MetaSchema);
}

/// The control characters `Text` refuses (tab, line feed and carriage return are text), as a
/// regular expression class that reads the same in ECMAScript, Python and Rust.
const CONTROL: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

/// Text without those control characters.
fn control_free() -> String {
    format!("^[^{CONTROL}]*$")
}

/// Text without those control characters, with at least one character that is no white space.
fn control_free_not_blank() -> String {
    format!("^[^{CONTROL}]*[^{CONTROL}\\s][^{CONTROL}]*$")
}

/// Any text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plain;
/// A required short field: not only blanks (`Checker::required`), at most [`SHORT_MAX`]
/// characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotBlank;
/// A required long field (an indication): not only blanks, at most [`LONG_MAX`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotBlankLong;
/// A short field: at most [`SHORT_MAX`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Short;
/// An address, remark or description: at most [`LONG_MAX`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Long;
/// A `latitude,longitude` pair ([`COORDINATE_PATTERN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coordinate;
/// An email address of at most [`SHORT_MAX`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Email;
/// A password of [`PASSWORD_MIN`] to [`PASSWORD_MAX`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Password;

impl Rule for Plain {
    fn state(s: &mut MetaSchema) {
        s.pattern = Some(control_free());
    }
}
impl Rule for NotBlank {
    fn state(s: &mut MetaSchema) {
        s.min_length = Some(1);
        s.max_length = Some(SHORT_MAX);
        s.pattern = Some(control_free_not_blank());
    }
}
impl Rule for NotBlankLong {
    fn state(s: &mut MetaSchema) {
        s.min_length = Some(1);
        s.max_length = Some(LONG_MAX);
        s.pattern = Some(control_free_not_blank());
    }
}
impl Rule for Short {
    fn state(s: &mut MetaSchema) {
        s.max_length = Some(SHORT_MAX);
        s.pattern = Some(control_free());
    }
}
impl Rule for Long {
    fn state(s: &mut MetaSchema) {
        s.max_length = Some(LONG_MAX);
        s.pattern = Some(control_free());
    }
}
impl Rule for Coordinate {
    fn state(s: &mut MetaSchema) {
        s.pattern = Some(COORDINATE_PATTERN.to_owned());
        s.example = Some(Value::String("-6.914744,107.609810".into()));
    }
}
impl Rule for Email {
    fn state(s: &mut MetaSchema) {
        s.format = Some("email");
        s.max_length = Some(SHORT_MAX);
    }
}
impl Rule for Password {
    fn state(s: &mut MetaSchema) {
        s.min_length = Some(PASSWORD_MIN);
        s.max_length = Some(PASSWORD_MAX);
        s.format = Some("password");
        s.pattern = Some(control_free());
    }
}

pub struct Text<R = Plain>(pub String, PhantomData<R>);

impl<R> Text<R> {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into(), PhantomData)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<R> Clone for Text<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

impl<R> PartialEq for Text<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<R> Eq for Text<R> {}

impl<R> Default for Text<R> {
    fn default() -> Self {
        Self(String::new(), PhantomData)
    }
}

impl<R> fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<R> Deref for Text<R> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<R> AsRef<str> for Text<R> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<R> fmt::Display for Text<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<R> From<Text<R>> for String {
    fn from(t: Text<R>) -> Self {
        t.0
    }
}

impl<R: Rule> Type for Text<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        R::state(&mut schema);
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<R: Rule> ParseFromJSON for Text<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) if s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => {
                Err(ParseError::custom("control characters (other than tab and line breaks) are not allowed"))
            }
            Value::String(s) => Ok(Text(s, PhantomData)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<R: Rule> ToJSON for Text<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// `Option<Text>` as `Option<String>`.
pub fn opt<R>(t: Option<Text<R>>) -> Option<String> {
    t.map(Text::into_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns the document states agree with what `Text` and the checker accept.
    #[test]
    fn the_stated_patterns_accept_what_the_api_accepts() {
        let free = regex::Regex::new(&control_free()).unwrap();
        let not_blank = regex::Regex::new(&control_free_not_blank()).unwrap();
        for ok in ["", "a", "tab\there", "line\nbreak", "é ü 中"] {
            assert!(free.is_match(ok), "{ok:?}");
        }
        for bad in ["nul\0", "bell\u{7}", "del\u{7f}", "c1\u{85}"] {
            assert!(!free.is_match(bad) && !not_blank.is_match(bad), "{bad:?}");
            assert!(Text::<Plain>::parse_from_json(Some(Value::String(bad.into()))).is_err(), "{bad:?}");
        }
        for ok in ["a", " a ", "\tx\n"] {
            assert!(not_blank.is_match(ok), "{ok:?}");
        }
        for blank in ["", " ", "\t\n "] {
            assert!(!not_blank.is_match(blank), "{blank:?}");
        }
    }
}
