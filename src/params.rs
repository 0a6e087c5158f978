//! Transform parameters from `--param KEY=VALUE` and `--params-file FILE`.
//!
//! A value is kept as typed JSON when it parses as JSON (`3`, `0.5`, `true`, `[1,2]`,
//! `{"a":1}`, `"quoted"`), and as a plain string otherwise (`adam`, `2026-01-01`).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Params are provenance, not data: a file larger than this is a mistake.
const MAX_PARAMS_BYTES: u64 = 16 << 20;

/// Parses one `KEY=VALUE` argument.
pub fn parse_param(arg: &str) -> Result<(String, Value)> {
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(Error::InvalidParam {
            arg: arg.to_string(),
        });
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(Error::InvalidParam {
            arg: arg.to_string(),
        });
    }
    let value = match serde_json::from_str(raw) {
        // JSON numbers become f64 beyond 64 bits: an id or a seed would silently change.
        Ok(_) if first_inexact_integer(raw).is_some() => Value::String(raw.to_string()),
        Ok(value) => value,
        Err(_) => Value::String(raw.to_string()),
    };
    Ok((key.to_string(), value))
}

/// The first integer literal in JSON text that does not fit in 64 bits (i64 or u64), which
/// serde_json would turn into an approximate float. Strings are skipped.
pub fn first_inexact_integer(json: &str) -> Option<&str> {
    let bytes = json.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                at += 1;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    at += 1;
                }
                let token = &json[start..at];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some(token);
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// Reads a JSON object of parameters from a file.
pub fn load_params_file(path: &Path) -> Result<Map<String, Value>> {
    let bytes = crate::fs_util::read_bounded(path, MAX_PARAMS_BYTES)?.ok_or_else(|| {
        Error::PathNotFound {
            path: path.to_path_buf(),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"),
        )
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| Error::ParamsFileSyntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    if let Some(number) = first_inexact_integer(&text) {
        return Err(Error::InexactParam {
            path: path.to_path_buf(),
            number: number.to_string(),
        });
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Error::ParamsFileNotObject {
            path: path.to_path_buf(),
            found: json_kind(&other),
        }),
    }
}

/// Combines a params file with `--param` arguments; arguments win.
pub fn collect(file: Option<&Path>, args: &[String]) -> Result<Map<String, Value>> {
    let mut params = match file {
        Some(path) => load_params_file(path)?,
        None => Map::new(),
    };
    for arg in args {
        let (key, value) = parse_param(arg)?;
        params.insert(key, value);
    }
    Ok(params)
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
