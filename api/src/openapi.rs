//! The OpenAPI document as served and committed: poem-openapi's, with every optional property
//! marked `nullable`. Optional fields travel as `null` in both directions (the contract's JSON
//! keeps every key), and the document must say so.

use serde_json::{Value, json};

/// Describes the answers in `text/event-stream` (the live feed) as they are sent: a stream of
/// Server-Sent Events, each described as an object of its fields (`event`, `id`, `data`,
/// `retry`), as OpenAPI 3.2 reads an event stream's schema and tools read it before: `retry`
/// first, then `ready` or `reset` (data `{}`), then `ticket` (data: the ticket document) and
/// `removed` (data: `{id, ticketId}`). (poem-openapi calls such a stream an array of its items, which no
/// client reads it as.)
pub fn describe_event_streams(doc: &mut Value) {
    // `data` is JSON text; OpenAPI 3.0 has no keyword for the schema of a string's content, so
    // it is named in `x-contentMediaType` and `x-contentSchema` (3.2's `contentMediaType` and
    // `contentSchema`) and in words.
    let event = |names: &[&str], data: Value, description: &str| {
        json!({
            "type": "object",
            "description": description,
            "required": ["event", "id", "data"],
            "properties": {
                "event": {"type": "string", "enum": names},
                "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The change number; send it back as `Last-Event-ID`."},
                "data": {
                    "type": "string",
                    "description": "JSON of the schema in `x-contentSchema`.",
                    "x-contentMediaType": "application/json",
                    "x-contentSchema": data
                }
            }
        })
    };
    let marker = json!({"type": "object", "description": "An empty object.", "properties": {}});
    let removal = json!({
        "type": "object",
        "required": ["id", "ticketId"],
        "properties": {"id": {"type": "string", "format": "uuid"}, "ticketId": {"type": "string"}}
    });
    let ticket = json!({"$ref": "#/components/schemas/TicketDocument"});
    let schema = json!({
        "type": "object",
        "description": "One Server-Sent Event of the live feed.",
        "oneOf": [
            {
                "type": "object",
                "description": "`retry: 1000`, first: reconnect a second after the stream ends.",
                "required": ["retry"],
                "properties": {"retry": {"type": "integer", "minimum": 0}},
                "not": {"required": ["event"], "properties": {"event": {"type": "string"}}}
            },
            event(&["ready", "reset"], marker,
                "`ready` (the stream starts after this id) or `reset` (the changes after `Last-Event-ID` are no longer kept: reload, then follow)."),
            event(&["ticket"], ticket, "A ticket the caller sees changed: its document, as `GET /v1/tickets/{id}` answers it."),
            event(&["removed"], removal, "A change took a ticket out of the caller's sight.")
        ]
    });
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|p| p.values_mut()) {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        for content in responses.values_mut().filter_map(|r| r.get_mut("content")) {
            if let Some(stream) = content.get_mut("text/event-stream") {
                stream["schema"] = schema.clone();
            }
        }
    }
}

/// Marks the optional properties of every component schema `nullable`.
pub fn allow_null(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    // The type of each component, for the wrappers that refer to one: `nullable` needs a
    // `type` beside it (OpenAPI 3.0.3), and a wrapper has none of its own.
    let types: Vec<(String, Value)> = schemas
        .iter()
        .filter_map(|(name, schema)| {
            Some((format!("#/components/schemas/{name}"), schema.get("type")?.clone()))
        })
        .collect();
    for schema in schemas.values_mut() {
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        for (name, prop) in props.iter_mut() {
            if !required.contains(name) {
                nullable(prop, &types);
            }
        }
    }
}

fn nullable(prop: &mut Value, types: &[(String, Value)]) {
    let Some(obj) = prop.as_object_mut() else { return };
    let reference = match obj.remove("$ref") {
        Some(r) => Some(r),
        // poem-openapi wraps a documented reference in an `allOf` of the reference and, at
        // times, its description: the description moves up beside the property.
        None => {
            let parts = obj.get("allOf").and_then(Value::as_array).cloned().unwrap_or_default();
            let refs: Vec<&Value> = parts.iter().filter_map(|p| p.get("$ref")).collect();
            let described = |p: &Value| p.as_object().is_some_and(|o| o.keys().all(|k| k == "description"));
            match refs.as_slice() {
                [r] if parts.iter().all(|p| p.get("$ref").is_some() || described(p)) => {
                    let r = (*r).clone();
                    if let Some(d) = parts.iter().find_map(|p| p.get("description")).cloned() {
                        obj.entry("description").or_insert(d);
                    }
                    obj.remove("allOf");
                    Some(r)
                }
                _ => None,
            }
        }
    };
    match reference {
        // A reference or null, in the form OpenAPI 3.0 generators and linters read alike: one of
        // the referred schema or a null of its type (`nullable` beside a reference, or beside a
        // type-less wrapper, is ignored by generators or refused by linters).
        Some(r) => {
            let t = types.iter().find(|(name, _)| Some(name.as_str()) == r.as_str()).map(|(_, t)| t.clone());
            obj.insert(
                "oneOf".into(),
                json!([{ "$ref": r }, { "type": t.unwrap_or(json!("object")), "nullable": true, "enum": [null] }]),
            );
        }
        None => {
            obj.insert("nullable".into(), Value::Bool(true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable() {
        let mut doc = json!({"components": {"schemas": {
            "Region": {"type": "string", "enum": ["West", "East"]},
            "Area": {"type": "object", "properties": {}},
            "User": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "area": {"type": "string"},
                "region": {"$ref": "#/components/schemas/Region"},
                "city": {"allOf": [{"$ref": "#/components/schemas/Area"}], "description": "d"}
            }
        }}}});
        allow_null(&mut doc);
        let p = &doc["components"]["schemas"]["User"]["properties"];
        assert_eq!(p["id"], json!({"type": "string"}));
        assert_eq!(p["area"], json!({"type": "string", "nullable": true}));
        assert_eq!(
            p["region"],
            json!({"oneOf": [
                {"$ref": "#/components/schemas/Region"},
                {"type": "string", "nullable": true, "enum": [null]}
            ]})
        );
        assert_eq!(p["city"]["oneOf"][0]["$ref"], "#/components/schemas/Area");
        assert_eq!(p["city"]["oneOf"][1]["type"], "object", "the null is of the type referred to");
        assert_eq!(p["city"]["description"], "d");
    }
}
