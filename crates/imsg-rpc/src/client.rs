//! The JSON-RPC client: clonable [`RpcClient`] handles in front of one driver task.
//!
//! The driver task owns the read half of the stream, the line decoder, the pending-request
//! table and the notification queue. A small companion writer task owns the write half: if the
//! driver wrote itself, a peer that stops reading its stdin while its stdout is full would
//! block the driver's write, the driver would stop reading, and both sides would wait forever.
//!
//! Notifications go to the consumer through a bounded channel. When it is full the driver
//! parks further notifications in a second bounded queue and keeps reading, so responses that
//! arrive behind them are still routed; only when that queue is full too does the driver stop
//! reading, the pipe fills and the peer blocks. Nothing is ever dropped.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::error::{RpcError, is_permission_text};
use crate::frame::{DEFAULT_MAX_LINE_BYTES, Frame, LineDecoder};
use crate::wire::{
    ChatsList, ChatsListParams, History, HistoryParams, Incoming, MessageEvent, Notification,
    OkResult, ReadParams, Request, SendParams, SendResult, StreamError, SubscribeParams,
    Subscription, TypingParams, UnsubscribeParams, Version,
};

/// How many bytes of a bad line are quoted in the log.
const PREVIEW_BYTES: usize = 80;

/// How much of a plain-text permission banner is kept.
const PERMISSION_HINT_BYTES: usize = 4096;

/// How many timed-out request ids are remembered, to name late answers in the log.
const REMEMBERED_CANCELLED: usize = 64;

/// Settings of an [`RpcClient`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Lines longer than this are discarded (default 16 MiB).
    pub max_line_bytes: usize,
    /// Capacity of the notification channel the consumer reads (default 1024).
    pub notification_capacity: usize,
    /// How many notifications the driver parks while that channel is full before it stops
    /// reading (default 1024). Responses behind parked notifications are still routed.
    pub notification_overflow: usize,
    /// Timeout of every request except `send` and `send.*` (default 10 s).
    pub request_timeout: Duration,
    /// Timeout of `send` and `send.*` (default 150 s; bridge sends on macOS 26 can stall for
    /// minutes).
    pub send_timeout: Duration,
    /// The binary named in a Full Disk Access error (default `imsg`).
    pub binary: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            notification_capacity: 1024,
            notification_overflow: 1024,
            request_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(150),
            binary: "imsg".to_owned(),
        }
    }
}

/// A snapshot of the transport counters of one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Non-blank lines read, including bad and oversized ones.
    pub lines: u64,
    /// Lines that were not a JSON-RPC object (invalid UTF-8, not JSON, not an object).
    pub bad_lines: u64,
    /// Lines longer than the maximum, discarded.
    pub oversized: u64,
    /// Notifications decoded and handed on, including those discarded after the consumer
    /// dropped its receiver.
    pub notifications: u64,
    /// Responses whose id matched no pending request (unknown, duplicate or late).
    pub orphan_responses: u64,
    /// Requests waiting for their answer right now.
    pub pending: u64,
}

/// Atomic counters shared by the driver and the handles.
#[derive(Debug, Default)]
struct Stats {
    lines: AtomicU64,
    bad_lines: AtomicU64,
    oversized: AtomicU64,
    notifications: AtomicU64,
    orphan_responses: AtomicU64,
    pending: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counters {
        Counters {
            lines: self.lines.load(Ordering::Relaxed),
            bad_lines: self.bad_lines.load(Ordering::Relaxed),
            oversized: self.oversized.load(Ordering::Relaxed),
            notifications: self.notifications.load(Ordering::Relaxed),
            orphan_responses: self.orphan_responses.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
        }
    }
}

/// State shared between the handles and the driver.
#[derive(Debug)]
struct Shared {
    next_id: AtomicU64,
    /// The one recorded failure, set once when the session ends.
    closed: OnceLock<RpcError>,
    stats: Stats,
    config: ClientConfig,
}

/// What a finished request hands back to its caller: the raw result or an error.
type Reply = Result<Box<RawValue>, RpcError>;

/// Messages from the handles to the driver.
#[derive(Debug)]
enum Command {
    /// Register a pending request, then write its line.
    Request {
        id: u64,
        method: String,
        line: Vec<u8>,
        reply: oneshot::Sender<Reply>,
    },
    /// Forget a pending request (its caller timed out or went away).
    Cancel { id: u64 },
    /// Close the peer's input; the peer is expected to exit on EOF.
    CloseInput,
}

/// Computes the error recorded when the stream ends; the spawner uses it to add the exit
/// status and the stderr tail.
pub(crate) type CloseReporter =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = RpcError> + Send>> + Send>;

/// A future that resolves once.
type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long the driver still waits for EOF after the child has exited.
///
/// A wrapper script that started ssh without `exec` leaves ssh holding stdout open after the
/// script itself exited; without this bound the session would never be declared closed.
const EOF_GRACE_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What the spawner tells the driver about the child behind the stream.
pub(crate) struct PeerHooks {
    /// Resolves when the child has exited (or can no longer be waited for).
    pub(crate) exited: Signal,
    /// Builds the error recorded when the session ends.
    pub(crate) report: CloseReporter,
}

/// A cheap, clonable handle to one `imsg rpc` session.
///
/// Requests from many tasks are multiplexed over the one stream; each gets a fresh numeric id
/// and its own timeout. When the session ends, every pending and later request fails with the
/// same recorded error (see [`RpcClient::close_reason`]).
#[derive(Debug, Clone)]
pub struct RpcClient {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

/// The ordered stream of notifications of one session.
///
/// The consumer must keep draining it: when it and the driver's overflow queue are full, the
/// driver stops reading, so responses queued behind further notifications wait (and time out).
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::Receiver<Notification>,
}

impl Notifications {
    /// Waits for the next notification; `None` once the session has ended and all were read.
    pub async fn recv(&mut self) -> Option<Notification> {
        self.rx.recv().await
    }

    /// Returns a notification if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Notification> {
        self.rx.try_recv().ok()
    }
}

impl RpcClient {
    /// Starts a session over one bidirectional stream (for example a `tokio::io::duplex` end).
    ///
    /// Must be called inside a Tokio runtime: it spawns the driver and the writer tasks.
    pub fn connect<T>(io: T, config: ClientConfig) -> (Self, Notifications)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(io);
        Self::from_halves(reader, writer, config)
    }

    /// Starts a session over separate read and write halves (a child's stdout and stdin).
    ///
    /// Must be called inside a Tokio runtime.
    pub fn from_halves<R, W>(reader: R, writer: W, config: ClientConfig) -> (Self, Notifications)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        Self::start(reader, writer, config, None)
    }

    /// Starts the driver and writer tasks.
    pub(crate) fn start<R, W>(
        reader: R,
        writer: W,
        config: ClientConfig,
        hooks: Option<PeerHooks>,
    ) -> (Self, Notifications)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (notify_tx, notify_rx) = mpsc::channel(config.notification_capacity.max(1));
        let (line_tx, line_rx) = mpsc::unbounded_channel();
        let (write_err_tx, write_err_rx) = oneshot::channel::<WriteFailure>();
        let shared = Arc::new(Shared {
            next_id: AtomicU64::new(1),
            closed: OnceLock::new(),
            stats: Stats::default(),
            config,
        });
        tokio::spawn(write_loop(writer, line_rx, write_err_tx));
        let driver = Driver {
            decoder: LineDecoder::new(shared.config.max_line_bytes),
            shared: Arc::clone(&shared),
            commands: command_rx,
            accepting: true,
            lines: Some(line_tx),
            write_error: write_err_rx,
            input_broken: None,
            permission_hint: None,
            pending: HashMap::new(),
            cancelled: VecDeque::new(),
            notify: notify_tx,
            parked: VecDeque::new(),
        };
        tokio::spawn(driver.run(reader, hooks));
        (Self { shared, commands }, Notifications { rx: notify_rx })
    }

    /// Sends a request and returns its raw `result`, with the default timeout for `method`.
    ///
    /// This is the escape hatch for the bridge methods (`send.rich`, `tapback`, ...).
    ///
    /// # Errors
    ///
    /// [`RpcError::Remote`] for a JSON-RPC error answer, [`RpcError::PermissionDenied`] for
    /// imsg's Full Disk Access error, [`RpcError::Timeout`] (or
    /// [`RpcError::SendOutcomeUnknown`] for `send` and `send.*`) when no answer came in time,
    /// the recorded [`RpcError::Closed`] or [`RpcError::Io`] once the session has ended, and
    /// [`RpcError::InputClosed`] after [`RpcClient::close_input`].
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.request(method, &params, self.timeout_for(method))
            .await
    }

    /// Like [`RpcClient::call`] with an explicit timeout.
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::call`].
    pub async fn call_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        self.request(method, &params, timeout).await
    }

    /// `chats.list`: chats, newest activity first.
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::call`], plus [`RpcError::Decode`] when the result has the wrong shape.
    pub async fn chats_list(&self, params: &ChatsListParams) -> Result<ChatsList, RpcError> {
        self.typed("chats.list", params).await
    }

    /// `messages.history`: messages of one chat, newest first.
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`].
    pub async fn messages_history(&self, params: &HistoryParams) -> Result<History, RpcError> {
        self.typed("messages.history", params).await
    }

    /// `watch.subscribe`: starts a subscription whose rows arrive as notifications.
    ///
    /// Notifications for the new id can arrive before this call returns.
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`].
    pub async fn watch_subscribe(
        &self,
        params: &SubscribeParams,
    ) -> Result<Subscription, RpcError> {
        self.typed("watch.subscribe", params).await
    }

    /// `watch.unsubscribe`: ends a subscription (imsg says ok even for unknown ids).
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`].
    pub async fn watch_unsubscribe(&self, subscription: i64) -> Result<OkResult, RpcError> {
        self.typed("watch.unsubscribe", &UnsubscribeParams { subscription })
            .await
    }

    /// `send`: delivers a text or file. Never retried.
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`]; a timeout is [`RpcError::SendOutcomeUnknown`]. The
    /// result is decoded leniently, so [`RpcError::Decode`] only happens when imsg answered with
    /// success but not with an object: the message went out, so do not send it again.
    pub async fn send(&self, params: &SendParams) -> Result<SendResult, RpcError> {
        self.typed("send", params).await
    }

    /// `typing`: starts or stops the typing indicator (needs the IMCore bridge).
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`].
    pub async fn typing(&self, params: &TypingParams) -> Result<OkResult, RpcError> {
        self.typed("typing", params).await
    }

    /// `read`: marks a chat read (needs the IMCore bridge).
    ///
    /// # Errors
    ///
    /// As for [`RpcClient::chats_list`].
    pub async fn read(&self, params: &ReadParams) -> Result<OkResult, RpcError> {
        self.typed("read", params).await
    }

    /// The transport counters so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.shared.stats.snapshot()
    }

    /// The error every request gets once the session has ended, or `None` while it runs.
    #[must_use]
    pub fn close_reason(&self) -> Option<RpcError> {
        self.shared.closed.get().cloned()
    }

    /// Closes the peer's input after the requests already queued; imsg exits on EOF.
    pub fn close_input(&self) {
        // A send error means the driver is gone and the input is already closed.
        let _ = self.commands.send(Command::CloseInput);
    }

    /// The configured timeout for `method`.
    fn timeout_for(&self, method: &str) -> Duration {
        if delivers_message(method) {
            self.shared.config.send_timeout
        } else {
            self.shared.config.request_timeout
        }
    }

    /// Sends a request with typed params and decodes its result into `T`.
    async fn typed<P, T>(&self, method: &str, params: &P) -> Result<T, RpcError>
    where
        P: Serialize + Sync,
        T: DeserializeOwned,
    {
        let raw = self
            .request_raw(method, params, self.timeout_for(method))
            .await?;
        serde_json::from_str(raw.get()).map_err(|e| RpcError::Decode {
            method: method.to_owned(),
            source: Arc::new(e),
        })
    }

    /// Sends a request and decodes its result as a `Value`.
    async fn request<P: Serialize + Sync>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let raw = self.request_raw(method, params, timeout).await?;
        serde_json::from_str(raw.get()).map_err(|e| RpcError::Decode {
            method: method.to_owned(),
            source: Arc::new(e),
        })
    }

    /// Registers a request with the driver and waits for its answer, at most `timeout`.
    async fn request_raw<P: Serialize + Sync>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Reply {
        if let Some(err) = self.shared.closed.get() {
            return Err(err.clone());
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Request {
            jsonrpc: Version::V2,
            id,
            method,
            params,
        };
        let mut line = serde_json::to_vec(&request).map_err(|e| RpcError::Decode {
            method: method.to_owned(),
            source: Arc::new(e),
        })?;
        line.push(b'\n');
        let (reply, answer) = oneshot::channel();
        let command = Command::Request {
            id,
            method: method.to_owned(),
            line,
            reply,
        };
        if self.commands.send(command).is_err() {
            return Err(self.ended());
        }
        // If the caller drops this future, the guard tells the driver to forget the id.
        let mut guard = CancelOnDrop {
            id,
            commands: &self.commands,
            armed: true,
        };
        let outcome = tokio::time::timeout(timeout, answer).await;
        match outcome {
            Ok(Ok(reply)) => {
                guard.armed = false;
                reply
            }
            Ok(Err(_)) => {
                guard.armed = false;
                Err(self.ended())
            }
            Err(_) => {
                // The guard removes the pending entry; the answer, if it comes, is logged.
                drop(guard);
                if delivers_message(method) {
                    warn!(id, %method, "imsg rpc send timed out; outcome unknown, not retried");
                    Err(RpcError::SendOutcomeUnknown { after: timeout })
                } else {
                    Err(RpcError::Timeout {
                        method: method.to_owned(),
                        after: timeout,
                    })
                }
            }
        }
    }

    /// The recorded failure, or a generic "closed" when none was recorded yet.
    fn ended(&self) -> RpcError {
        self.close_reason().unwrap_or(RpcError::Closed {
            status: None,
            stderr_tail: String::new(),
        })
    }
}

/// True for the methods that deliver a message: `send` and the `send.*` family (`send.rich`,
/// `send.attachment`, and the `send.tracked`/`send.multipart`/`send.sticker` of newer imsg).
///
/// They get the long send timeout, and a timeout is [`RpcError::SendOutcomeUnknown`], never a
/// plain (retryable-looking) [`RpcError::Timeout`].
fn delivers_message(method: &str) -> bool {
    method == "send" || method.starts_with("send.")
}

/// Removes a pending request from the driver's table when its caller stops waiting.
struct CancelOnDrop<'a> {
    id: u64,
    commands: &'a mpsc::UnboundedSender<Command>,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            // A send error means the driver is gone, and with it the pending table.
            let _ = self.commands.send(Command::Cancel { id: self.id });
        }
    }
}

/// What woke the driver loop.
#[derive(Debug)]
enum Event {
    Command(Option<Command>),
    WriteFailed(Option<WriteFailure>),
    Delivered,
    ConsumerGone,
    Read(std::io::Result<usize>),
    PeerExited,
    EofOverdue,
}

/// Awaits an optional one-shot future; the caller disables the branch when it is `None`.
async fn fire(signal: &mut Option<Signal>) {
    match signal {
        Some(signal) => signal.await,
        None => std::future::pending().await,
    }
}

/// One request waiting for its answer.
#[derive(Debug)]
struct Pending {
    method: String,
    reply: oneshot::Sender<Reply>,
}

/// The task that owns the read half, the decoder, the pending table and the queues.
struct Driver {
    decoder: LineDecoder,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// False once every handle is gone.
    accepting: bool,
    /// Lines for the writer task, each with its request id; `None` once the input was closed.
    lines: Option<mpsc::UnboundedSender<(u64, Vec<u8>)>>,
    write_error: oneshot::Receiver<WriteFailure>,
    /// Set when writing failed; new requests fail at once with it.
    input_broken: Option<Arc<std::io::Error>>,
    /// A non-JSON stdout line that named Full Disk Access; it explains a later exit.
    permission_hint: Option<String>,
    pending: HashMap<u64, Pending>,
    /// Recently cancelled ids, to name a late answer in the log.
    cancelled: VecDeque<(u64, String)>,
    notify: mpsc::Sender<Notification>,
    /// Notifications waiting for room in `notify`, in order.
    parked: VecDeque<Notification>,
}

impl Driver {
    async fn run<R: AsyncRead + Unpin>(mut self, mut reader: R, hooks: Option<PeerHooks>) {
        let overflow = self.shared.config.notification_overflow.max(1);
        let (mut exited, reporter) = match hooks {
            Some(hooks) => (Some(hooks.exited), Some(hooks.report)),
            None => (None, None),
        };
        let mut eof_deadline: Option<Signal> = None;
        // Whether bytes were read or notifications taken since the EOF deadline was armed.
        let mut progress = false;
        let mut write_failed = false;
        let read_error = loop {
            let event = tokio::select! {
                biased;
                command = self.commands.recv(), if self.accepting => Event::Command(command),
                result = &mut self.write_error, if !write_failed => Event::WriteFailed(result.ok()),
                permit = self.notify.reserve(), if !self.parked.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(n) = self.parked.pop_front() {
                            permit.send(n);
                        }
                        Event::Delivered
                    }
                    Err(_) => Event::ConsumerGone,
                },
                read = reader.read_buf(self.decoder.buffer_mut()),
                    if self.parked.len() < overflow => Event::Read(read),
                () = fire(&mut exited), if exited.is_some() => Event::PeerExited,
                // Not while back-pressure holds the reading: output still in the pipe would be
                // lost, and the wait for EOF is the consumer's, not the peer's.
                () = fire(&mut eof_deadline),
                    if eof_deadline.is_some() && self.parked.len() < overflow => Event::EofOverdue,
            };
            match event {
                Event::Command(Some(command)) => self.on_command(command),
                Event::Command(None) => {
                    // Every handle is gone: nobody can ask anything more, so end the input
                    // and keep reading until the peer closes its output.
                    self.accepting = false;
                    self.lines = None;
                }
                Event::WriteFailed(failure) => {
                    write_failed = true;
                    if let Some(failure) = failure {
                        self.on_write_failure(failure);
                    }
                }
                Event::Delivered => {
                    progress = true;
                    self.pump(overflow);
                }
                Event::ConsumerGone => {
                    self.consumer_gone();
                    // Decoding stopped while the queue was full; what is already buffered (an
                    // answer, say) must be routed now, as the peer may write nothing more.
                    self.pump(overflow);
                }
                Event::Read(Ok(0)) => break None,
                Event::Read(Ok(_)) => {
                    progress = true;
                    self.pump(overflow);
                }
                Event::Read(Err(err)) => break Some(err),
                Event::PeerExited => {
                    exited = None;
                    progress = false;
                    eof_deadline = Some(Box::pin(tokio::time::sleep(EOF_GRACE_AFTER_EXIT)));
                }
                Event::EofOverdue if progress => {
                    // Output is still flowing (or waiting for the consumer): not a stuck pipe.
                    progress = false;
                    eof_deadline = Some(Box::pin(tokio::time::sleep(EOF_GRACE_AFTER_EXIT)));
                }
                Event::EofOverdue => {
                    warn!(
                        "imsg rpc: the child exited but its output is still open (a process it \
                         started holds it); ending the session"
                    );
                    break None;
                }
            }
        };
        // Everything still buffered is in memory already: route it all, then the tail.
        self.pump(usize::MAX);
        if let Some(frame) = self.decoder.finish() {
            self.on_frame(frame);
        }
        let error = match (reporter, read_error) {
            (_, Some(err)) => RpcError::io(err),
            (Some(reporter), None) => reporter().await,
            (None, None) => RpcError::Closed {
                status: None,
                stderr_tail: String::new(),
            },
        };
        // An old imsg printed its Full Disk Access banner as plain text and exited; a newer
        // one may say it on stderr. Either way the user needs the fix, not "exited (code 1)".
        let error = match (&error, self.permission_hint.take()) {
            (_, Some(text)) => RpcError::permission_from_text(&text, &self.shared.config.binary),
            (RpcError::Closed { stderr_tail, .. }, None) if is_permission_text(stderr_tail) => {
                RpcError::permission_from_text(stderr_tail, &self.shared.config.binary)
            }
            _ => error,
        };
        debug!(%error, "imsg rpc session ended");
        let error = self.shared.closed.get_or_init(|| error).clone();
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Request { reply, .. } = command {
                let _ = reply.send(Err(error.clone()));
            }
        }
        for (_, pending) in self.pending.drain() {
            let _ = pending.reply.send(Err(error.clone()));
        }
        self.shared.stats.pending.store(0, Ordering::Relaxed);
        self.lines = None;
        // Hand out what was parked; the consumer may still be reading.
        while let Some(n) = self.parked.pop_front() {
            if self.notify.send(n).await.is_err() {
                break;
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                id,
                method,
                line,
                reply,
            } => {
                if let Some(err) = &self.input_broken {
                    let _ = reply.send(Err(RpcError::Io {
                        source: Arc::clone(err),
                    }));
                    return;
                }
                let Some(lines) = &self.lines else {
                    let _ = reply.send(Err(RpcError::InputClosed));
                    return;
                };
                // INVARIANT: ids come from one counter, so an id is never pending twice.
                let previous = self.pending.insert(id, Pending { method, reply });
                debug_assert!(previous.is_none(), "request id reused");
                self.shared
                    .stats
                    .pending
                    .store(self.pending.len() as u64, Ordering::Relaxed);
                if lines.send((id, line)).is_err() {
                    // The writer stopped after a failed write: this line was never written.
                    self.fail_unsent(id);
                }
            }
            Command::Cancel { id } => {
                if let Some(pending) = self.pending.remove(&id) {
                    if self.cancelled.len() == REMEMBERED_CANCELLED {
                        self.cancelled.pop_front();
                    }
                    self.cancelled.push_back((id, pending.method));
                    self.shared
                        .stats
                        .pending
                        .store(self.pending.len() as u64, Ordering::Relaxed);
                }
            }
            Command::CloseInput => self.lines = None,
        }
    }

    /// Records a failed write and fails the requests whose lines were never written.
    ///
    /// The line whose write failed stays pending: part of it may have reached the peer, so its
    /// outcome is unknown and it ends by its answer, its timeout or the end of the session.
    fn on_write_failure(&mut self, failure: WriteFailure) {
        warn!(error = %failure.error, "imsg rpc: writing to the peer failed");
        self.input_broken = Some(Arc::new(failure.error));
        for id in failure.unsent {
            self.fail_unsent(id);
        }
    }

    /// Fails a pending request whose line never left the client with the write error.
    fn fail_unsent(&mut self, id: u64) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        self.shared
            .stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        let source = self.input_broken.clone().unwrap_or_else(|| {
            Arc::new(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "writing to the peer failed",
            ))
        });
        let _ = pending.reply.send(Err(RpcError::Io { source }));
    }

    /// Decodes buffered frames while the overflow queue has room.
    fn pump(&mut self, overflow: usize) {
        while self.parked.len() < overflow {
            let Some(frame) = self.decoder.next_frame() else {
                break;
            };
            self.on_frame(frame);
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        let stats = &self.shared.stats;
        Stats::bump(&stats.lines);
        let line = match frame {
            Frame::Oversized => {
                Stats::bump(&stats.oversized);
                warn!(
                    max = self.shared.config.max_line_bytes,
                    "imsg rpc: discarded a line longer than the maximum"
                );
                return;
            }
            Frame::Line(line) => line,
        };
        match parse_incoming(&line) {
            Ok(incoming) => self.on_incoming(incoming),
            Err(reason) => {
                Stats::bump(&stats.bad_lines);
                self.note_permission_text(&line);
                warn!(
                    line = %preview(&line),
                    %reason,
                    "imsg rpc: skipped a line that is not a JSON-RPC object"
                );
            }
        }
    }

    /// Keeps the plain-text Full Disk Access banner of an old imsg (and the lines after it,
    /// bounded) so the error recorded at exit can name the fix and the database path.
    fn note_permission_text(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        match &mut self.permission_hint {
            Some(hint) if hint.len() < PERMISSION_HINT_BYTES => {
                hint.push('\n');
                push_bounded(hint, &text, PERMISSION_HINT_BYTES);
            }
            Some(_) => {}
            None if is_permission_text(&text) => {
                let mut hint = String::new();
                push_bounded(&mut hint, &text, PERMISSION_HINT_BYTES);
                self.permission_hint = Some(hint);
            }
            None => {}
        }
    }

    fn on_incoming(&mut self, incoming: Incoming<'_>) {
        let id = incoming.id.filter(|raw| raw.get() != "null");
        let error = incoming.error.and_then(crate::wire::ErrorObject::from_raw);
        match (id, incoming.method) {
            (None, Some(method)) => {
                let notification = decode_notification(&method, incoming.params);
                self.deliver(notification);
            }
            (Some(id), _) => self.on_response(id, incoming.result, error),
            (None, None) => {
                Stats::bump(&self.shared.stats.orphan_responses);
                match error {
                    Some(err) => warn!(
                        code = err.code,
                        message = %err.message,
                        "imsg rpc: the peer reported an error without a request id"
                    ),
                    None => warn!("imsg rpc: skipped an object with neither id nor method"),
                }
            }
        }
    }

    fn on_response(
        &mut self,
        raw_id: &RawValue,
        result: Option<&RawValue>,
        error: Option<crate::wire::ErrorObject>,
    ) {
        let id = parse_id(raw_id);
        let Some(pending) = id.and_then(|id| self.pending.remove(&id)) else {
            Stats::bump(&self.shared.stats.orphan_responses);
            let late = id.and_then(|id| self.cancelled.iter().find(|(c, _)| *c == id));
            match late {
                Some((id, method)) => warn!(
                    id,
                    %method,
                    "imsg rpc: answer arrived after its request timed out; ignored"
                ),
                None => warn!(
                    id = raw_id.get(),
                    "imsg rpc: answer with an unknown or already answered id; ignored"
                ),
            }
            return;
        };
        self.shared
            .stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        let reply = match (error, result) {
            (Some(err), _) => Err(RpcError::from_remote(
                err.code,
                err.message,
                err.data,
                &self.shared.config.binary,
            )),
            (None, Some(result)) => Ok(result.to_owned()),
            (None, None) => Err(RpcError::Decode {
                method: pending.method,
                source: Arc::new(<serde_json::Error as serde::de::Error>::custom(
                    "response has neither result nor error",
                )),
            }),
        };
        // The caller may have given up in the meantime; then the answer is dropped.
        let _ = pending.reply.send(reply);
    }

    /// Queues a notification in order, parking it when the consumer's channel is full.
    fn deliver(&mut self, notification: Notification) {
        Stats::bump(&self.shared.stats.notifications);
        if !self.parked.is_empty() {
            self.parked.push_back(notification);
            return;
        }
        match self.notify.try_send(notification) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(n)) => self.parked.push_back(n),
            Err(mpsc::error::TrySendError::Closed(_)) => self.consumer_gone(),
        }
    }

    fn consumer_gone(&mut self) {
        if !self.parked.is_empty() {
            debug!(
                dropped = self.parked.len(),
                "imsg rpc: notification receiver dropped; discarding its queue"
            );
        }
        self.parked.clear();
    }
}

/// Parses one line into the envelope; invalid UTF-8, non-JSON and non-objects are errors.
fn parse_incoming(line: &[u8]) -> Result<Incoming<'_>, String> {
    // A struct also deserialises from a JSON array, so insist on an object up front. Leading
    // whitespace is allowed, as the reference clients trim each line (serde_json skips it).
    let first = line.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("not a JSON object".to_owned());
    }
    serde_json::from_slice::<Incoming<'_>>(line).map_err(|e| e.to_string())
}

/// Decodes one protocol line as a notification, exactly as the driver does.
///
/// Returns `None` for responses and for lines that are not JSON-RPC objects. This lets a
/// recorded stdout transcript be replayed without a peer, and is what the decode benchmark
/// measures.
#[must_use]
pub fn decode_notification_line(line: &[u8]) -> Option<Notification> {
    let incoming = parse_incoming(line).ok()?;
    let id = incoming.id.filter(|raw| raw.get() != "null");
    match (id, incoming.method) {
        (None, Some(method)) => Some(decode_notification(&method, incoming.params)),
        _ => None,
    }
}

/// Turns a notification's method and raw params into a [`Notification`].
fn decode_notification(method: &str, params: Option<&RawValue>) -> Notification {
    let raw = params.map_or("null", RawValue::get);
    let typed = match method {
        "message" => serde_json::from_str::<Box<MessageEvent>>(raw).map(Notification::Message),
        "error" => serde_json::from_str::<StreamError>(raw).map(Notification::Error),
        _ => {
            return Notification::Other {
                method: method.to_owned(),
                params: serde_json::from_str(raw).unwrap_or(Value::Null),
            };
        }
    };
    typed.unwrap_or_else(|err| {
        warn!(%method, error = %err, "imsg rpc: notification params have an unexpected shape");
        Notification::Malformed {
            method: method.to_owned(),
            params: serde_json::from_str(raw).unwrap_or(Value::Null),
            error: err.to_string(),
        }
    })
}

/// Reads a response id: a number, or a string holding one (some peers stringify ids).
fn parse_id(raw: &RawValue) -> Option<u64> {
    match serde_json::from_str::<Value>(raw.get()).ok()? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Appends as much of `text` as fits in `limit` bytes of `out`, on a character boundary.
fn push_bounded(out: &mut String, text: &str, limit: usize) {
    let room = limit.saturating_sub(out.len());
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(&text[..end]);
}

/// The first bytes of a line, lossily decoded and escaped, for logs.
fn preview(line: &[u8]) -> String {
    let cut = &line[..line.len().min(PREVIEW_BYTES)];
    let text = String::from_utf8_lossy(cut);
    let mut out: String = text.escape_debug().collect();
    if line.len() > PREVIEW_BYTES {
        out.push_str("...");
    }
    out
}

/// What the writer task reports when a write fails.
#[derive(Debug)]
struct WriteFailure {
    error: std::io::Error,
    /// Requests whose lines were still queued, so none of their bytes were written.
    unsent: Vec<u64>,
}

/// The writer task: writes request lines in order and closes the input at the end.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut lines: mpsc::UnboundedReceiver<(u64, Vec<u8>)>,
    failed: oneshot::Sender<WriteFailure>,
) {
    while let Some((_, line)) = lines.recv().await {
        let mut result = writer.write_all(&line).await;
        if result.is_ok() && lines.is_empty() {
            result = writer.flush().await;
        }
        if let Err(error) = result {
            lines.close();
            let mut unsent = Vec::new();
            while let Ok((id, _)) = lines.try_recv() {
                unsent.push(id);
            }
            let _ = failed.send(WriteFailure { error, unsent });
            return;
        }
    }
    // EOF on its stdin is imsg's signal to exit.
    if let Err(err) = writer.shutdown().await {
        debug!(error = %err, "imsg rpc: closing the peer's input failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Hooks of a child that has already exited, and whose close error is a plain `Closed`.
    fn exited_hooks() -> PeerHooks {
        PeerHooks {
            exited: Box::pin(async {}),
            report: Box::new(|| {
                Box::pin(async {
                    RpcError::Closed {
                        status: None,
                        stderr_tail: String::new(),
                    }
                })
            }),
        }
    }

    fn message_line(id: i64) -> Vec<u8> {
        let mut line = serde_json::to_vec(&json!({"jsonrpc":"2.0","method":"message",
            "params":{"subscription":1,"message":{"id":id,"text":"x".repeat(300)}}}))
        .unwrap();
        line.push(b'\n');
        line
    }

    #[tokio::test(start_paused = true)]
    async fn output_left_in_the_pipe_after_the_exit_is_not_lost_to_a_slow_consumer() {
        // The child wrote 30 rows and exited; most of them still sit in a small pipe when the
        // consumer, busy elsewhere, only starts reading long after the exit grace period.
        let (ours, theirs) = tokio::io::duplex(512);
        let (reader, _unused) = tokio::io::split(ours);
        let (_peer_reader, mut peer_writer) = tokio::io::split(theirs);
        let config = ClientConfig {
            notification_capacity: 2,
            notification_overflow: 2,
            ..ClientConfig::default()
        };
        let (client, mut notifications) =
            RpcClient::start(reader, tokio::io::sink(), config, Some(exited_hooks()));
        tokio::spawn(async move {
            for id in 1..=30 {
                if peer_writer.write_all(&message_line(id)).await.is_err() {
                    return;
                }
            }
            // Dropping the writer is the EOF that follows the child's last line.
        });
        tokio::time::sleep(EOF_GRACE_AFTER_EXIT * 5).await;
        let mut seen = Vec::new();
        while let Some(n) = notifications.recv().await {
            match n {
                Notification::Message(event) => seen.push(event.message.id),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, (1..=30).collect::<Vec<_>>());
        assert!(client.close_reason().is_some());
    }
}
