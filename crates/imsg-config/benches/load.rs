//! Criterion bench of loading configurations: a one-line section and a full OpenClaw file with two agents.
//!
//! Loading runs at start-up and on every reload, so it only has to be fast enough not to matter; the bench
//! keeps an eye on the key locator and the double parse (syntax check, then typed pass).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imsg_config::{LoadOptions, from_str};

const SMALL: &str = r#"{ channels: { imessage: { cliPath: "/usr/local/bin/imsg", allowFrom: ["+15555550123"] } } }"#;
const FULL: &str = include_str!("../tests/data/ok/openclaw-full-file.json5");
const MULTI: &str = include_str!("../tests/data/ok/multi-account-ssh-wrapper.json5");

fn bench_load(c: &mut Criterion) {
    let options = LoadOptions::new("bench.json5").with_home("/home/bench");
    let mut group = c.benchmark_group("load");
    for (name, text) in [
        ("small", SMALL),
        ("openclaw_full", FULL),
        ("multi_account", MULTI),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| from_str(black_box(text), &options).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
