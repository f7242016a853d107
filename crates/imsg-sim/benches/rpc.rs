//! Round-trip cost of the simulator's read methods through a real pipe: the `chats.list` probe and a
//! 500-row `messages.history` with attachments, over a 2000-row chat.

#![expect(
    clippy::expect_used,
    reason = "a bench fails loudly when its setup fails"
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use criterion::{Criterion, criterion_group, criterion_main};

fn seed(db: &std::path::Path) {
    imsg_sim::db::init_schema(db).expect("schema");
    for i in 0..2000i64 {
        let message = imsg_sim::db::Message {
            handle: "+15551230001".into(),
            text: Some(format!("message number {i} with a little text")),
            date: Some(768_000_000_000_000_000 + i * 1_000_000_000),
            attachments: if i % 10 == 0 {
                vec![imsg_sim::db::Attachment {
                    filename: format!("~/x/{i}.jpg"),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        imsg_sim::db::inject(db, &message).expect("inject");
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("chat.db");
    seed(&db);
    let mut child = Command::new(env!("CARGO_BIN_EXE_imsg-sim"))
        .args(["rpc", "--db", db.to_str().expect("utf-8")])
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = Vec::new();
    let mut round_trip = |request: &str| {
        stdin.write_all(request.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        line.clear();
        stdout.read_until(b'\n', &mut line).expect("read");
        line.len()
    };
    c.bench_function("chats.list limit 1", |b| {
        b.iter(|| round_trip("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chats.list\",\"params\":{\"limit\":1}}\n"));
    });
    c.bench_function("messages.history 500 rows with attachments", |b| {
        b.iter(|| {
            round_trip(
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"messages.history\",\"params\":{\"chat_id\":1,\"limit\":500,\"attachments\":true}}\n",
            )
        });
    });
    drop(stdin);
    let _ = child.wait();
}

criterion_group!(benches, bench);
criterion_main!(benches);
