//! Lenient parameter reading, exactly as imsg 0.9.0 coerces JSON values.

use serde_json::{Map, Value};

/// A view over a request's `params` object; a missing or non-object `params` reads as `{}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(map: Option<&'a Map<String, Value>>) -> Self {
        Self { map }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key))
    }

    /// Whether the key is present at all, even with a JSON `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A string, or a number turned into its decimal text.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.get(key).and_then(coerce_string)
    }

    /// A string that counts as absent when empty.
    pub(crate) fn non_empty_string(&self, key: &str) -> Option<String> {
        self.string(key).filter(|s| !s.is_empty())
    }

    /// An integer, a truncated float, or a string holding a plain integer.
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(coerce_int)
    }

    /// A bool, a number (non-zero is true), or exactly `"true"` / `"false"`.
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(coerce_bool)
    }

    /// An array of strings and numbers, or a comma-separated string; anything else is empty.
    pub(crate) fn string_array(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter(|v| v.is_string() || v.is_number())
                .filter_map(coerce_string)
                .collect(),
            Some(Value::String(text)) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The first of several alias keys that yields a string.
    pub(crate) fn first_string(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.string(k))
    }
}

pub(crate) fn coerce_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(decimal_text(n)),
        _ => None,
    }
}

/// A number's decimal text as NSNumber writes it: a whole float has no `.0` (`2.0` is `"2"`).
fn decimal_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        // Below 1e15 every whole float is exact as i64 and NSNumber prints it without an exponent.
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 1e15 => {
            format!("{f:.0}")
        }
        _ => n.to_string(),
    }
}

pub(crate) fn coerce_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // Foundation truncates floats towards zero; out-of-range values do not convert.
            (f.is_finite() && (-9.2e18..=9.2e18).contains(&f)).then(|| f.trunc() as i64)
        }),
        Value::String(s) => s.parse().ok(),
        // Foundation sees JSON booleans as NSNumber, so they read as 0 or 1.
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

pub(crate) fn coerce_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_like_imsg() {
        let v = json!({
            "i": 12, "f": 2.7, "nf": -0.5, "s": "12", "sf": "12.5", "sp": " 12", "b": true,
            "t": "true", "one": 1, "zero": 0, "x": "yes",
            "arr": ["a", 3, null, {"k": 1}, "b", 4.0], "csv": " a, ,b ,", "obj": {},
            "whole": 3.0, "negwhole": -40.0, "big": 15551230001.0
        });
        let p = Params::new(v.as_object());
        assert_eq!(p.int("i"), Some(12));
        assert_eq!(p.int("f"), Some(2));
        assert_eq!(p.int("nf"), Some(0));
        assert_eq!(p.int("s"), Some(12));
        assert_eq!(p.int("sf"), None);
        assert_eq!(p.int("sp"), None);
        assert_eq!(p.int("obj"), None);
        assert_eq!(p.int("missing"), None);
        assert_eq!(p.bool("b"), Some(true));
        assert_eq!(p.bool("t"), Some(true));
        assert_eq!(p.bool("one"), Some(true));
        assert_eq!(p.bool("zero"), Some(false));
        assert_eq!(p.bool("x"), None);
        assert_eq!(p.string("i").as_deref(), Some("12"));
        assert_eq!(p.string("f").as_deref(), Some("2.7"));
        assert_eq!(p.string("nf").as_deref(), Some("-0.5"));
        assert_eq!(p.string("whole").as_deref(), Some("3"));
        assert_eq!(p.string("negwhole").as_deref(), Some("-40"));
        assert_eq!(p.string("big").as_deref(), Some("15551230001"));
        assert_eq!(p.string("b"), None);
        assert_eq!(p.string_array("arr"), vec!["a", "3", "b", "4"]);
        assert_eq!(p.string_array("csv"), vec!["a", "b"]);
        assert_eq!(p.string_array("obj"), Vec::<String>::new());
    }

    #[test]
    fn missing_params_read_as_empty() {
        let p = Params::new(None);
        assert!(!p.has("limit"));
        assert_eq!(p.int("limit"), None);
    }
}
