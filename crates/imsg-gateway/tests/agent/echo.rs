//! The echo backend says what it received and how it was admitted.

use imsg_gateway::agent::{
    AgentEvent, Backend, ChatInfo, ChatKind, EchoBackend, HistoryInfo, ReactionNotice, SenderInfo,
};

use crate::support::{dm, group};

#[tokio::test]
async fn echo_answers_a_dm_with_its_text_and_admission() {
    let replies = EchoBackend::new()
        .respond(&AgentEvent::Message(dm("hello there")))
        .await
        .expect("echo never fails");
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].text,
        "echo: hello there\n[direct chat over imessage · from +15551234567 · admitted: direct message, \
         commands authorized]"
    );
    assert!(replies[0].file.is_none());
}

#[tokio::test]
async fn echo_names_the_group_the_mention_and_the_context() {
    let mut message = group("@bot what time is it");
    message.command_authorized = false;
    message.history = vec![HistoryInfo {
        sender: "Alice".to_owned(),
        body: "anyone around?".to_owned(),
        timestamp: None,
        message_id: 99,
    }];
    let replies = EchoBackend::new()
        .respond(&AgentEvent::Message(message))
        .await
        .expect("echo never fails");
    assert_eq!(
        replies[0].text,
        "echo: @bot what time is it\n[group \"Climbing\" (chat 42) over imessage · from +15559876543 · \
         admitted: mentioned, commands not authorized · 1 earlier message(s) as context]"
    );
}

#[tokio::test]
async fn echo_describes_a_reaction() {
    let reaction = ReactionNotice {
        version: 1,
        account_id: "default".to_owned(),
        session_key: "agent:main:main".to_owned(),
        chat: ChatInfo {
            kind: ChatKind::Direct,
            id: Some(7),
            guid: None,
            service: "imessage".to_owned(),
        },
        sender: SenderInfo {
            id: "+15551234567".to_owned(),
            raw: "+15551234567".to_owned(),
            label: "Alice".to_owned(),
        },
        reaction: "love".to_owned(),
        emoji: None,
        added: true,
        target_guid: Some("g1".to_owned()),
        on_own_message: true,
    };
    let replies = EchoBackend::new()
        .respond(&AgentEvent::Reaction(reaction))
        .await
        .expect("echo never fails");
    assert_eq!(
        replies[0].text,
        "echo: reaction love added by +15551234567 on one of my messages"
    );
}
