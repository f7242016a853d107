//! Tests of the agent backends and the control commands, against real child processes and a real HTTP
//! server on 127.0.0.1.

#![expect(clippy::expect_used, reason = "test helpers fail loudly by design")]

mod commands;
mod config;
mod echo;
mod exec;
#[cfg(feature = "openai")]
mod http;
#[cfg(feature = "openai")]
mod openai;
mod support;
