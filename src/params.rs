//! Transform parameters from `--param KEY=VALUE` and `--params-file FILE`.
//!
//! A value is kept as typed JSON when it parses as JSON (`3`, `0.5`, `true`, `[1,2]`,
//! `{"a":1}`, `"quoted"`), and as a plain string otherwise (`adam`, `2026-01-01`).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, IoResultExt, Result};

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
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    Ok((key.to_string(), value))
}

/// Reads a JSON object of parameters from a file.
pub fn load_params_file(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_path(path)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| Error::ParamsFileSyntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
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
