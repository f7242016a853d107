//! Decode throughput: imsg-rpc framing + typed notification decoding against bare serde_json.
//!
//! The stream is a few thousand realistic `message` notifications (spec section 7.2), written
//! the way imsg writes them (`\/` escaped slashes, raw non-ASCII, attachments on some rows).
//! Run with `cargo bench -p imsg-rpc --bench decode -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imsg_rpc::{
    ClientConfig, DEFAULT_MAX_LINE_BYTES, Frame, LineDecoder, Notification, RpcClient,
    decode_notification_line,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

/// How many notifications the recorded stream holds.
const LINES: usize = 5000;

/// The size of the reads the driver gets from a pipe.
const READ_CHUNK: usize = 64 * 1024;

/// Builds the stream: one notification per line, newline-terminated.
fn recorded_stream() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..LINES {
        let id = 100_000 + i as i64;
        let group = i % 3 == 0;
        let (chat_id, identifier, guid, name, participants) = if group {
            (
                1,
                "chat123456789012345678",
                "iMessage;+;chat123456789012345678",
                "Weekend plans 🏕️",
                json!(["+15551230001", "+15551230002", "alice@example.com"]),
            )
        } else {
            (
                2,
                "+15551230001",
                "iMessage;-;+15551230001",
                "+15551230001",
                json!(["+15551230001"]),
            )
        };
        let attachments = if i % 5 == 0 {
            json!([{
                "filename": format!("~/Library/Messages/Attachments/aa/10/G-{id}/IMG_{i}.HEIC"),
                "transfer_name": format!("IMG_{i}.HEIC"),
                "uti": "public.heic",
                "mime_type": "image/heic",
                "total_bytes": 1_843_221 + i,
                "is_sticker": false,
                "original_path": format!("/Users/me/Library/Messages/Attachments/aa/10/G-{id}/IMG_{i}.HEIC"),
                "missing": false
            }])
        } else {
            json!([])
        };
        let mut message = json!({
            "id": id,
            "chat_id": chat_id,
            "guid": format!("5C2D1B3A-8F4E-4A61-9E2B-{id:012}"),
            "sender": if group { "alice@example.com" } else { "+15551230001" },
            "is_from_me": i % 7 == 0,
            "text": format!("Message {i}: are we still on for dinner at 7? I can bring dessert \u{2014} café ☕"),
            "created_at": "2025-05-03T21:25:00.000Z",
            "attachments": attachments,
            "reactions": [],
            "chat_identifier": identifier,
            "chat_guid": guid,
            "chat_name": name,
            "participants": participants,
            "is_group": group,
        });
        if i % 4 == 0 {
            message["destination_caller_id"] = json!("me@icloud.com");
        }
        if i % 6 == 0 {
            message["reply_to_guid"] = json!(format!("5C2D1B3A-8F4E-4A61-9E2B-{:012}", id - 1));
            message["reply_to_text"] = json!("see you there");
            message["reply_to_sender"] = json!("+15551230002");
        }
        let line = json!({"jsonrpc":"2.0","method":"message",
            "params":{"subscription":1,"message":message}});
        // imsg (Foundation) escapes forward slashes; reproduce that byte shape.
        let text = serde_json::to_string(&line)
            .unwrap_or_default()
            .replace('/', "\\/");
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    out
}

/// imsg-rpc: frame the stream in pipe-sized reads and decode each line into a notification.
fn imsg_rpc_decode(stream: &[u8]) -> usize {
    let mut decoder = LineDecoder::new(DEFAULT_MAX_LINE_BYTES);
    let mut count = 0;
    for chunk in stream.chunks(READ_CHUNK) {
        decoder.extend(chunk);
        while let Some(frame) = decoder.next_frame() {
            if let Frame::Line(line) = frame
                && let Some(Notification::Message(event)) = decode_notification_line(&line)
            {
                black_box(&event);
                count += 1;
            }
        }
    }
    count
}

/// Baseline: split on newlines and parse each line into a `serde_json::Value`.
fn bare_value(stream: &[u8]) -> usize {
    let mut count = 0;
    for line in stream.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(value) = serde_json::from_slice::<Value>(line) {
            black_box(&value);
            count += 1;
        }
    }
    count
}

/// The full client: the stream written into a pipe, read by the driver, drained by a consumer.
fn client_pipeline(runtime: &tokio::runtime::Runtime, stream: &[u8]) -> usize {
    runtime.block_on(async {
        let (ours, mut theirs) = tokio::io::duplex(READ_CHUNK);
        let (_client, mut notifications) = RpcClient::connect(ours, ClientConfig::default());
        let bytes = stream.to_vec();
        let writer = tokio::spawn(async move {
            let _ = theirs.write_all(&bytes).await;
            theirs
        });
        let mut count = 0;
        while count < LINES {
            match notifications.recv().await {
                Some(n) => {
                    black_box(&n);
                    count += 1;
                }
                None => break,
            }
        }
        drop(writer.await);
        count
    })
}

fn decode(c: &mut Criterion) {
    let stream = recorded_stream();
    assert_eq!(imsg_rpc_decode(&stream), LINES, "decoder lost lines");
    assert_eq!(bare_value(&stream), LINES, "baseline lost lines");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("no runtime: {err}"));
    assert_eq!(
        client_pipeline(&runtime, &stream),
        LINES,
        "client lost lines"
    );

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("imsg_rpc_framing_and_typed_decode", |b| {
        b.iter(|| imsg_rpc_decode(black_box(&stream)));
    });
    group.bench_function("bare_serde_json_value", |b| {
        b.iter(|| bare_value(black_box(&stream)));
    });
    group.bench_function("client_pipeline_over_duplex", |b| {
        b.iter(|| client_pipeline(&runtime, black_box(&stream)));
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
