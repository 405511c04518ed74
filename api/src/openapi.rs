//! The OpenAPI document as served and committed: poem-openapi's, with every optional property
//! marked `nullable`. Optional fields travel as `null` in both directions (the contract's JSON
//! keeps every key), and the document must say so.

use serde_json::{Value, json};

/// Marks the optional properties of every component schema `nullable`.
pub fn allow_null(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    for schema in schemas.values_mut() {
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        for (name, prop) in props.iter_mut() {
            if !required.contains(name) {
                nullable(prop);
            }
        }
    }
}

fn nullable(prop: &mut Value) {
    let Some(obj) = prop.as_object_mut() else { return };
    // A bare reference takes no siblings in OpenAPI 3.0: wrap it.
    if let Some(reference) = obj.remove("$ref") {
        obj.insert("allOf".into(), json!([{ "$ref": reference }]));
    }
    obj.insert("nullable".into(), Value::Bool(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable() {
        let mut doc = json!({"components": {"schemas": {"User": {
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
            json!({"allOf": [{"$ref": "#/components/schemas/Region"}], "nullable": true})
        );
        assert_eq!(p["city"]["nullable"], true);
        assert_eq!(p["city"]["description"], "d");
    }
}
