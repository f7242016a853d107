//! Shared fixtures: events and a bounded await.

use std::future::Future;
use std::time::Duration;

use imsg_gateway::agent::{ChatInfo, ChatKind, MessageEvent, SenderInfo};

/// Every await on a child process or a server round trip in these tests is bounded by this.
pub(crate) const BOUND: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`BOUND`].
pub(crate) async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .expect("the operation did not finish within the test bound")
}

/// A DM from `+15551234567` on the default account.
pub(crate) fn dm(text: &str) -> MessageEvent {
    MessageEvent {
        version: 1,
        account_id: "default".to_owned(),
        agent_id: "main".to_owned(),
        session_key: "agent:main:main".to_owned(),
        chat: ChatInfo {
            kind: ChatKind::Direct,
            id: Some(7),
            guid: Some("iMessage;-;+15551234567".to_owned()),
            service: "imessage".to_owned(),
        },
        sender: SenderInfo {
            id: "+15551234567".to_owned(),
            raw: "+1 (555) 123-4567".to_owned(),
            label: "Alice".to_owned(),
        },
        text: text.to_owned(),
        message_id: 100,
        guid: Some("guid-100".to_owned()),
        group_subject: None,
        group_members: Vec::new(),
        reply_to: None,
        attachments: Vec::new(),
        history: Vec::new(),
        timestamp: Some(1_700_000_000_000),
        was_mentioned: true,
        command_authorized: true,
    }
}

/// A group message in chat 42 (“Climbing”) from Bob.
pub(crate) fn group(text: &str) -> MessageEvent {
    let mut m = dm(text);
    m.session_key = "agent:main:imessage:group:42".to_owned();
    m.chat = ChatInfo {
        kind: ChatKind::Group,
        id: Some(42),
        guid: Some("iMessage;+;chat42".to_owned()),
        service: "imessage".to_owned(),
    };
    m.sender = SenderInfo {
        id: "+15559876543".to_owned(),
        raw: "+15559876543".to_owned(),
        label: "Bob".to_owned(),
    };
    m.group_subject = Some("Climbing".to_owned());
    m.group_members = vec!["+15551234567".to_owned(), "+15559876543".to_owned()];
    m
}
