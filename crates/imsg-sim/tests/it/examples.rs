//! The conformance examples of imsg 0.9.0 (and a few framing rules), run from `examples.json`
//! against the built binary through a raw pipe.

use serde_json::Value;

use crate::harness::{Fixture, Sim, expand, matches, run_cli};

/// Runs one case and returns a description of the first mismatch.
fn run_case(case: &Value) -> Result<(), String> {
    let env: Vec<(String, String)> = case
        .get("env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Some(args) = case.get("cli").and_then(Value::as_array) {
        let args: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
        let (stdout, code) = run_cli(&args, &env_refs);
        if let Some(want) = case["exit"].as_i64()
            && i64::from(code) != want
        {
            return Err(format!(
                "exit code {code}, expected {want}; stdout {stdout:?}"
            ));
        }
        if let Some(want) = case.get("stdout").and_then(Value::as_str)
            && stdout != want
        {
            return Err(format!("stdout {stdout:?}, expected {want:?}"));
        }
        if let Some(prefix) = case.get("stdout_prefix").and_then(Value::as_str)
            && !stdout.starts_with(prefix)
        {
            return Err(format!("stdout {stdout:?} does not start with {prefix:?}"));
        }
        if let Some(bad) = case.get("not_contains").and_then(Value::as_str)
            && stdout.to_lowercase().contains(bad)
        {
            return Err(format!("stdout contains {bad:?}"));
        }
        return Ok(());
    }
    let fixture = Fixture::f();
    let home = fixture.home().to_str().ok_or("home path")?.to_owned();
    let mut sim = match case.get("args").and_then(Value::as_array) {
        Some(args) => {
            let db = fixture.db().to_str().ok_or("db path")?.to_owned();
            let args: Vec<String> = args
                .iter()
                .filter_map(Value::as_str)
                .map(|a| a.replace("$DB", &db))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Sim::spawn(&args, fixture.home(), &env_refs)
        }
        None => Sim::rpc(&fixture, &env_refs),
    };
    for (i, step) in case["script"]
        .as_array()
        .ok_or("script")?
        .iter()
        .enumerate()
    {
        if let Some(line) = step.get("send").and_then(Value::as_str) {
            sim.send(&line.replace("$TMP", &home));
        } else if let Some(expected) = step.get("expect") {
            let expected = expand(expected, &home);
            let actual = sim.json();
            matches(&expected, &actual).map_err(|m| format!("step {i}: {m}\n  got: {actual}"))?;
        } else if let Some(sql) = step.get("sql").and_then(Value::as_str) {
            // One transaction, as Messages.app commits a row with its chat join: written as two
            // commits, a poll landing between them would see the row without a chat yet.
            fixture
                .writer()
                .execute_batch(&format!("BEGIN IMMEDIATE; {sql} COMMIT;"))
                .map_err(|e| format!("step {i}: sql failed: {e}"))?;
        } else if let Some(path) = step.get("file").and_then(Value::as_str) {
            std::fs::write(path.replace("$TMP", &home), b"\x89PNG").map_err(|e| e.to_string())?;
        } else if step.get("close").is_some() {
            let status = sim.finish();
            let want = case["exit"].as_i64().unwrap_or(0);
            if i64::from(status.code().unwrap_or(-1)) != want {
                return Err(format!("exit status {status}, expected {want}"));
            }
            return Ok(());
        } else {
            return Err(format!("step {i}: unknown step {step}"));
        }
    }
    // Every case ends cleanly: end of input stops the process with its normal exit code.
    let status = sim.finish();
    let want = case.get("exit").and_then(Value::as_i64).unwrap_or(0);
    if i64::from(status.code().unwrap_or(-1)) != want {
        return Err(format!("exit status {status}, expected {want}"));
    }
    Ok(())
}

#[test]
fn spec_examples() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("examples.json")).expect("examples.json parses");
    assert!(cases.len() >= 40, "the table lost cases");
    // Cases are independent processes, so they run in parallel to keep the suite quick on two cores.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                scope.spawn(move || {
                    let name = case["name"].as_str().unwrap_or("?").to_owned();
                    run_case(case).err().map(|e| format!("{name}: {e}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap_or_else(|_| Some("case panicked".into())))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn matcher_can_fail() {
    // The comparison must reject extra keys, missing keys and wrong values, or every example would pass.
    let cases = [
        (r#"{"a":1}"#, r#"{"a":1,"b":2}"#, false),
        (r#"{"a":1,"b":2}"#, r#"{"a":1}"#, false),
        (r#"{"a":[1,2]}"#, r#"{"a":[2,1]}"#, false),
        (r#"{"a":"<any>"}"#, r#"{"a":[2,1]}"#, true),
        (r#"{"a":{"$contains":["x","y"]}}"#, r#"{"a":"xyz"}"#, true),
        (r#"{"a":{"$contains":["x","q"]}}"#, r#"{"a":"xyz"}"#, false),
    ];
    for (expected, actual, ok) in cases {
        let e: Value = serde_json::from_str(expected).unwrap();
        let a: Value = serde_json::from_str(actual).unwrap();
        assert_eq!(matches(&e, &a).is_ok(), ok, "{expected} vs {actual}");
    }
}
