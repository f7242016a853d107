//! A scripted peer: the far end of a duplex pipe that reads request lines and writes raw bytes.

use imsg_rpc::{ClientConfig, Notifications, RpcClient};
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream, ReadHalf, WriteHalf,
};

/// The peer side of a session.
pub(crate) struct Peer {
    pub(crate) reader: BufReader<ReadHalf<DuplexStream>>,
    pub(crate) writer: WriteHalf<DuplexStream>,
}

impl Peer {
    /// Reads the next request line and parses it.
    pub(crate) async fn request(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "client closed its output");
        assert!(
            line.ends_with('\n'),
            "request not newline-terminated: {line:?}"
        );
        serde_json::from_str(&line).unwrap()
    }

    /// Reads the next request line as exact text (without the newline).
    pub(crate) async fn request_text(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).await.unwrap();
        line.trim_end_matches('\n').to_owned()
    }

    /// Writes raw bytes.
    pub(crate) async fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    /// Writes one JSON value as a line.
    pub(crate) async fn line(&mut self, value: &Value) {
        let mut text = serde_json::to_vec(value).unwrap();
        text.push(b'\n');
        self.write(&text).await;
    }

    /// Answers request `id` with `result`.
    pub(crate) async fn answer(&mut self, id: &Value, result: Value) {
        self.line(&json!({"jsonrpc":"2.0","id":id,"result":result}))
            .await;
    }
}

/// A client and its scripted peer over a duplex pipe of `pipe` bytes.
pub(crate) fn session(config: ClientConfig, pipe: usize) -> (RpcClient, Notifications, Peer) {
    let (ours, theirs) = tokio::io::duplex(pipe);
    let (client, notifications) = RpcClient::connect(ours, config);
    let (reader, writer) = tokio::io::split(theirs);
    let peer = Peer {
        reader: BufReader::new(reader),
        writer,
    };
    (client, notifications, peer)
}

/// A realistic `message` notification line for row `id` on subscription `sub`.
pub(crate) fn message_line(sub: i64, id: i64) -> Vec<u8> {
    let value = json!({"jsonrpc":"2.0","method":"message","params":{"subscription":sub,
        "message":{"id":id,"chat_id":2,"guid":format!("G-{id}"),"sender":"+15551230001",
        "is_from_me":false,"text":format!("message number {id}"),
        "created_at":"2025-05-03T21:25:00.000Z","attachments":[],"reactions":[],
        "chat_identifier":"+15551230001","chat_guid":"iMessage;-;+15551230001",
        "chat_name":"+15551230001","participants":["+15551230001"],"is_group":false}}});
    let mut line = serde_json::to_vec(&value).unwrap();
    line.push(b'\n');
    line
}

/// A small config for tests: small queues, short line limit.
pub(crate) fn small_config(capacity: usize, overflow: usize) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.notification_capacity = capacity;
    config.notification_overflow = overflow;
    config.max_line_bytes = 1024;
    config
}
