//! Per-session conversation memory: the last few exchanges of each session, for a bounded number of sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

/// One exchange: what the contact said and what the assistant answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The user's message as sent to the model.
    pub user: String,
    /// The model's answer.
    pub assistant: String,
}

#[derive(Debug, Default)]
struct Session {
    turns: VecDeque<Turn>,
    /// The value of the use counter when the session was last touched, for least-recently-used eviction.
    last_used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    clock: u64,
}

/// Memory keyed by session key, bounded by turns per session and by sessions.
///
/// A lock held only for map operations (never across an await), so a plain mutex is enough.
#[derive(Debug)]
pub struct SessionMemory {
    max_turns: usize,
    max_sessions: usize,
    inner: Mutex<Inner>,
}

impl SessionMemory {
    /// Memory keeping `max_turns` exchanges per session for at most `max_sessions` sessions (at least one).
    pub fn new(max_turns: usize, max_sessions: usize) -> SessionMemory {
        SessionMemory {
            max_turns,
            max_sessions: max_sessions.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (every operation is a single step), so
        // the memory stays usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The remembered exchanges of `session_key`, oldest first.
    pub fn turns(&self, session_key: &str) -> Vec<Turn> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        match inner.sessions.get_mut(session_key) {
            Some(session) => {
                session.last_used = now;
                session.turns.iter().cloned().collect()
            }
            None => Vec::new(),
        }
    }

    /// Records an exchange, forgetting the oldest one beyond `max_turns` and the least recently used session
    /// beyond `max_sessions`.
    pub fn record(&self, session_key: &str, turn: Turn) {
        if self.max_turns == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if !inner.sessions.contains_key(session_key) && inner.sessions.len() >= self.max_sessions {
            let oldest = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.sessions.remove(&oldest);
            }
        }
        let session = inner.sessions.entry(session_key.to_owned()).or_default();
        session.last_used = now;
        session.turns.push_back(turn);
        while session.turns.len() > self.max_turns {
            session.turns.pop_front();
        }
    }

    /// Forgets `session_key`; returns how many exchanges were forgotten.
    pub fn clear(&self, session_key: &str) -> usize {
        self.lock()
            .sessions
            .remove(session_key)
            .map_or(0, |s| s.turns.len())
    }

    /// How many sessions are remembered.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(n: usize) -> Turn {
        Turn {
            user: format!("q{n}"),
            assistant: format!("a{n}"),
        }
    }

    #[test]
    fn keeps_the_last_turns_of_each_session() {
        let memory = SessionMemory::new(2, 10);
        for n in 0..5 {
            memory.record("s", turn(n));
        }
        assert_eq!(memory.turns("s"), vec![turn(3), turn(4)]);
        assert!(memory.turns("other").is_empty());
        assert_eq!(memory.clear("s"), 2);
        assert!(memory.turns("s").is_empty());
        assert_eq!(memory.clear("s"), 0);
    }

    #[test]
    fn forgets_the_least_recently_used_session() {
        let memory = SessionMemory::new(3, 2);
        memory.record("a", turn(1));
        memory.record("b", turn(2));
        // Reading `a` makes `b` the least recently used.
        assert_eq!(memory.turns("a").len(), 1);
        memory.record("c", turn(3));
        assert_eq!(memory.session_count(), 2);
        assert!(memory.turns("b").is_empty());
        assert_eq!(memory.turns("a"), vec![turn(1)]);
        assert_eq!(memory.turns("c"), vec![turn(3)]);
    }

    #[test]
    fn zero_turns_remembers_nothing() {
        let memory = SessionMemory::new(0, 2);
        memory.record("a", turn(1));
        assert!(memory.turns("a").is_empty());
        assert_eq!(memory.session_count(), 0);
    }
}
