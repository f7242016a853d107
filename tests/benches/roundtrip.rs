//! Round-trip latency of `chats.list {"limit":1}` to the simulator over a real pipe.
//!
//! Spawns the `imsg` wrapper binary through imsg-rpc on a seeded chat.db, runs a warm-up and
//! then N sequential round trips, and prints p50, p90, p99 and max. Run with
//! `cargo bench -p imsg-tests --bench roundtrip` (optionally `-- <N>`).

use std::time::{Duration, Instant};

use imsg_rpc::{ChatsListParams, SpawnOptions};

/// Round trips measured unless a count is given on the command line.
const DEFAULT_ROUNDS: usize = 2000;

/// Round trips run first and not measured.
const WARM_UP: usize = 100;

/// Seeds a small chat.db: a direct chat and a group with a few messages each.
fn seed(db: &std::path::Path) -> Result<(), imsg_sim::db::DbError> {
    imsg_sim::db::init_schema(db)?;
    for i in 0..20 {
        imsg_sim::db::inject(
            db,
            &imsg_sim::db::Message {
                handle: "+15551230001".into(),
                text: Some(format!("direct message {i}")),
                ..Default::default()
            },
        )?;
        imsg_sim::db::inject(
            db,
            &imsg_sim::db::Message {
                handle: "alice@example.com".into(),
                text: Some(format!("group message {i}")),
                group: Some(imsg_sim::db::Group {
                    identifier: "chat123".into(),
                    name: Some("Group Chat".into()),
                    members: vec!["+15551230001".into()],
                }),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// The value at quantile `q` of sorted samples (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[expect(clippy::print_stdout, reason = "a bench reports its figures on stdout")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench` and `cargo xtask bench` passes criterion's timing flags, which
    // this harness ignores; only `--rounds N` sets the round count.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .windows(2)
        .find(|pair| pair[0] == "--rounds")
        .and_then(|pair| pair[1].parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("chat.db");
    seed(&db)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut samples = runtime.block_on(async {
        let options =
            SpawnOptions::new(env!("CARGO_BIN_EXE_imsg")).with_db(db.display().to_string());
        let (child, client, _notifications) = imsg_rpc::spawn(options)?;
        let params = ChatsListParams { limit: Some(1) };
        for _ in 0..WARM_UP {
            client.chats_list(&params).await?;
        }
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            let list = client.chats_list(&params).await?;
            samples.push(start.elapsed());
            assert_eq!(list.chats.len(), 1);
        }
        child.shutdown().await;
        Ok::<_, imsg_rpc::RpcError>(samples)
    })?;
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len())?;
    println!(
        "chats.list {{limit:1}} round trip over a pipe to imsg-sim, {rounds} rounds: \
         p50 {:?}, p90 {:?}, p99 {:?}, max {:?}, mean {mean:?}",
        quantile(&samples, 0.50),
        quantile(&samples, 0.90),
        quantile(&samples, 0.99),
        quantile(&samples, 1.0),
    );
    Ok(())
}
