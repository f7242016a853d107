//! A small real HTTP/1.1 server on 127.0.0.1 for the openai backend: one request per connection, answered
//! by a script.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) head: String,
    pub(crate) body: serde_json::Value,
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    /// Wait this long before answering.
    pub(crate) delay: Duration,
}

impl Answer {
    /// A chat completion with `content`.
    pub(crate) fn completion(content: &str) -> Answer {
        Answer {
            status: 200,
            body: serde_json::json!({
                "id": "cmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
            })
            .to_string(),
            delay: Duration::ZERO,
        }
    }

    /// An error status with `body`.
    pub(crate) fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }
}

type Script = Arc<dyn Fn(usize, &Seen) -> Answer + Send + Sync>;

/// A real HTTP/1.1 server on 127.0.0.1: one request per connection, answered by a script.
pub(crate) struct Server {
    pub(crate) base_url: String,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Starts a server answering request `n` (0-based) with `script(n, request)`.
    pub(crate) async fn start(
        script: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Script = Arc::new(script);
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let seen = Arc::clone(&seen);
                    let script = Arc::clone(&script);
                    tokio::spawn(async move {
                        serve_one(stream, seen, script).await;
                    });
                }
            }
        });
        Server {
            base_url: format!("http://{addr}/v1"),
            seen,
            task,
        }
    }

    /// The requests received so far.
    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn serve_one(mut stream: tokio::net::TcpStream, seen: Arc<Mutex<Vec<Seen>>>, script: Script) {
    let mut data = Vec::new();
    let mut buf = [0_u8; 4096];
    let head_end = loop {
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let body = serde_json::from_slice(&data[head_end..head_end + length])
        .unwrap_or(serde_json::Value::Null);
    let request = Seen { head, body };
    let n = {
        let mut seen = seen.lock().expect("lock");
        seen.push(request.clone());
        seen.len() - 1
    };
    let answer = script(n, &request);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let reason = match answer.status {
        200 => "OK",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    );
    // The client may have given up (the timeout test); a failed write is then expected.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
