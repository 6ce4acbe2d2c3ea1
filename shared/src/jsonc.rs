//! JSON as FortiOS writes it: json-c's "spaced" style (`{ "d": { "__type": "…", … } }`, `[ { … }, { … } ]`)
//! with `/` escaped as `\/`, as every FortiOS debug capture shows. The virtual appliance sends its requests
//! and push messages in this form so they match a real FortiGate's byte for byte.

use serde_json::Value;

/// `value` written the way json-c's `JSON_C_TO_STRING_SPACED` writes it. Object keys keep their order.
pub fn to_string_spaced(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_value(out, item);
            }
            out.push_str(" ]");
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push_str(" }");
        }
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(json: &str, expected: &str) {
        let value: Value = serde_json::from_str(json).unwrap();
        assert_eq!(to_string_spaced(&value), expected);
    }

    #[test]
    fn spaced_style() {
        check(
            r#"{"a":1,"b":[true,null],"c":{}}"#,
            r#"{ "a": 1, "b": [ true, null ], "c": { } }"#,
        );
        check(r#"[]"#, "[ ]");
        check(r#""a/b\"c\\d\n\u0001é""#, r#""a\/b\"c\\d\n\u0001é""#);
    }

    #[test]
    fn fortios_license_import_capture_is_reproduced_byte_for_byte() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/wire/license-import-error16.request.json");
        let captured = std::fs::read_to_string(path).unwrap();
        let value: Value = serde_json::from_str(&captured).unwrap();
        assert_eq!(to_string_spaced(&value), captured.trim_end());
    }

    #[test]
    fn fortios_push_message_capture_is_reproduced_byte_for_byte() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/wire/push-send.request.json");
        let outer: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let message = outer["message"].as_str().unwrap();
        let inner: Value = serde_json::from_str(message).unwrap();
        assert_eq!(to_string_spaced(&inner), message);
    }
}
