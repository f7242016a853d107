//! JSON Schema export of the raw configuration, for editors and `config schema`.

use crate::raw::RawFile;

/// The JSON Schema (draft 2020-12) of the configuration file as this crate reads it.
///
/// The iMessage section and the objects inside it have `additionalProperties: false`; the global sections
/// describe only the keys the channel reads and allow any others.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawFile).to_value()
}
