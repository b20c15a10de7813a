//! Reads against a filled history, one at a time and timed from request to
//! last answer frame: joining a room (its replay), paging far back in a
//! room's history, searching (a mix of queries), and joining over IRC (its
//! `chathistory` batch).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::client::{ANSWER_TIMEOUT, Client, failed};
use super::corpus::{Corpus, zipf_rank};
use super::fill::{Layout, PASSWORD};
use crate::error::BenchError;

/// Rooms a pager or searcher is in.
const ROOMS_EACH: u32 = 10;

/// Results per search page (the terminal client asks for 10).
const SEARCH_LIMIT: u32 = 20;

/// Latency percentiles of one kind of request.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Requests timed.
    pub count: u64,
    /// Median, microseconds.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The slowest.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of a histogram in microseconds.
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests)",
            ms(self.p50_us),
            ms(self.p90_us),
            ms(self.p99_us),
            ms(self.max_us),
            self.count
        )
    }
}

/// A histogram for latencies from 1 µs to 60 s.
pub fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| failed("histogram", e))
}

fn record(h: &mut Histogram<u64>, since: Instant) {
    let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.max(1));
}

/// A room of the history: one of the largest (Zipf's head) or any.
fn some_room(rng: &mut fastrand::Rng, layout: &Layout) -> String {
    Layout::room(rng.u32(..layout.rooms))
}

/// `n` joins of random rooms by one client (each followed by a `part`),
/// timed from `join` to `history_end` (the replay included).
pub async fn joins(
    addr: SocketAddr,
    layout: &Layout,
    n: u32,
    seed: u64,
) -> Result<Latency, BenchError> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut client = Client::guest(addr, "hjoin").await?;
    let mut h = histogram()?;
    for _ in 0..n {
        let room = some_room(&mut rng, layout);
        let started = Instant::now();
        client.join(&room).await?;
        record(&mut h, started);
        client.part(&room).await?;
    }
    Ok(Latency::of(&h))
}

/// `n` pages of 50 from anywhere in the history of rooms the client is in
/// (`before` a random id of the whole history: far back, mostly).
pub async fn pages(
    addr: SocketAddr,
    layout: &Layout,
    n: u32,
    seed: u64,
) -> Result<Latency, BenchError> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut client = Client::guest(addr, "hpage").await?;
    let rooms = rooms_of(&mut rng, layout);
    for room in &rooms {
        client.join(room).await?;
    }
    let ids = layout.ids();
    let mut h = histogram()?;
    for _ in 0..n {
        let room = &rooms[rng.usize(..rooms.len())];
        let before = rng.u64(ids.start..ids.end.max(ids.start + 1));
        let started = Instant::now();
        client
            .send(&json!({"type": "history", "room": room, "before": before, "limit": 50}))
            .await?;
        client.until("history_end").await?;
        record(&mut h, started);
    }
    Ok(Latency::of(&h))
}

/// The rooms a pager or searcher is in: the three largest and seven of
/// any size.
fn rooms_of(rng: &mut fastrand::Rng, layout: &Layout) -> Vec<String> {
    let mut rooms: Vec<String> = (0..3.min(layout.rooms)).map(Layout::room).collect();
    while rooms.len() < ROOMS_EACH.min(layout.rooms) as usize {
        let room = some_room(rng, layout);
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    rooms
}

/// The kinds of search in the mix, with their shares.
const MIX: [(&str, f64); 6] = [
    ("english_mid", 0.30),
    ("english_common", 0.15),
    ("english_rare", 0.15),
    ("english_two", 0.15),
    ("chinese_2", 0.15),
    ("chinese_4", 0.10),
];

/// A query of kind `kind`.
fn query(corpus: &Corpus, rng: &mut fastrand::Rng, kind: &str) -> String {
    let (english, chinese) = corpus.common_words();
    let mid = |rng: &mut fastrand::Rng| corpus.english_by_rank(rng.usize(20..english.max(21)));
    match kind {
        "english_common" => corpus.english_by_rank(rng.usize(..20)).to_owned(),
        "english_rare" => corpus.rare_english(zipf_rank(rng, 50_000)),
        "english_two" => format!("{} {}", mid(rng), mid(rng)),
        "chinese_2" => corpus.chinese_by_rank(rng.usize(..chinese)).to_owned(),
        "chinese_4" => {
            let mut word = String::new();
            while word.chars().count() < 4 {
                word.push_str(corpus.chinese_by_rank(rng.usize(..chinese / 2)));
            }
            word
        }
        _ => mid(rng).to_owned(),
    }
}

/// Search latencies, overall and by kind of query.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    /// Every search.
    pub all: Latency,
    /// By kind of query (see the bench's documentation).
    pub by_kind: Vec<(String, Latency)>,
    /// Mean results per search.
    pub mean_hits: f64,
}

/// `n` searches by account holders (each in ten rooms, with their direct
/// messages), a mix of English and Chinese queries, one page of 20 each.
pub async fn searches(
    addr: SocketAddr,
    layout: &Layout,
    n: u32,
    seed: u64,
) -> Result<SearchReport, BenchError> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let corpus = Corpus::new();
    let mut searchers = Vec::new();
    for k in 0..4.min(layout.users) {
        let nick = Layout::nick(k * (layout.users / 4).max(1));
        let mut client = Client::login(
            addr,
            json!({"type": "login", "nickname": nick, "password": PASSWORD}),
        )
        .await?;
        for room in rooms_of(&mut rng, layout) {
            client.join(&room).await?;
        }
        searchers.push(client);
    }
    let mut all = histogram()?;
    let mut by_kind: Vec<(String, Histogram<u64>)> = Vec::new();
    for (kind, _) in MIX {
        by_kind.push((kind.to_owned(), histogram()?));
    }
    let mut hits = 0u64;
    for i in 0..n {
        let roll = rng.f64();
        let mut acc = 0.0;
        let kind = MIX
            .iter()
            .position(|(_, share)| {
                acc += share;
                roll < acc
            })
            .unwrap_or(0);
        let text = query(&corpus, &mut rng, MIX[kind].0);
        let count = searchers.len();
        let client = &mut searchers[i as usize % count];
        let started = Instant::now();
        client
            .send(&json!({"type": "search", "text": text, "limit": SEARCH_LIMIT}))
            .await?;
        let end = client.until("search_end").await?;
        record(&mut all, started);
        record(&mut by_kind[kind].1, started);
        hits += end["count"].as_u64().unwrap_or(0);
    }
    Ok(SearchReport {
        all: Latency::of(&all),
        by_kind: by_kind
            .into_iter()
            .map(|(kind, h)| (kind, Latency::of(&h)))
            .collect(),
        mean_hits: hits as f64 / f64::from(n.max(1)),
    })
}

/// `n` joins over IRC with the `batch` capability, timed from `JOIN` to the
/// end of the replay's `chathistory` batch.
pub async fn irc_joins(
    addr: SocketAddr,
    layout: &Layout,
    n: u32,
    seed: u64,
) -> Result<Latency, BenchError> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| failed("irc connect", e))?;
    stream.set_nodelay(true).map_err(|e| failed("irc", e))?;
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer
        .write_all(
            b"CAP LS 302\r\nNICK hirc\r\nUSER hirc 0 * :bench\r\nCAP REQ :batch server-time\r\n",
        )
        .await
        .map_err(|e| failed("irc", e))?;
    let mut registered = false;
    while !registered {
        let line = irc_line(&mut lines).await?;
        if line.contains(" ACK ") {
            writer
                .write_all(b"CAP END\r\n")
                .await
                .map_err(|e| failed("irc", e))?;
        }
        if line.contains(" 001 ") {
            registered = true;
        }
        if let Some(token) = line.strip_prefix("PING ") {
            writer
                .write_all(format!("PONG {token}\r\n").as_bytes())
                .await
                .map_err(|e| failed("irc", e))?;
        }
    }
    let mut h = histogram()?;
    for _ in 0..n {
        let channel = format!("#{}", some_room(&mut rng, layout));
        let started = Instant::now();
        writer
            .write_all(format!("JOIN {channel}\r\n").as_bytes())
            .await
            .map_err(|e| failed("irc", e))?;
        // Until the end of NAMES, then the replay's batch if there is one:
        // an empty room has none, so a PING marks where the replay ended.
        let mut names_done = false;
        loop {
            let line = irc_line(&mut lines).await?;
            if line.contains(" 366 ") && !names_done {
                names_done = true;
                writer
                    .write_all(b"PING :replayed\r\n")
                    .await
                    .map_err(|e| failed("irc", e))?;
            }
            if (line.contains("BATCH -") || line.contains("PONG")) && names_done {
                if line.contains("BATCH -") {
                    // Its PONG follows; read it so it is not taken for the
                    // next join's.
                    while !irc_line(&mut lines).await?.contains("PONG") {}
                }
                break;
            }
        }
        record(&mut h, started);
        writer
            .write_all(format!("PART {channel}\r\n").as_bytes())
            .await
            .map_err(|e| failed("irc", e))?;
    }
    Ok(Latency::of(&h))
}

async fn irc_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
) -> Result<String, BenchError> {
    tokio::time::timeout(ANSWER_TIMEOUT, lines.next_line())
        .await
        .map_err(|_| failed("irc", "no answer within 30 s"))?
        .map_err(|e| failed("irc", e))?
        .ok_or_else(|| failed("irc", "the server closed the connection"))
}

/// Joins and pages by one client while `stop` is false (during an ingest
/// run), alternating, timed like [`joins`] and [`pages`].
pub async fn meanwhile(
    addr: SocketAddr,
    layout: Layout,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> Result<(Latency, Latency), BenchError> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut client = Client::guest(addr, "hmeanwhile").await?;
    let home = Layout::room(0);
    client.join(&home).await?;
    let ids = layout.ids();
    let (mut joins, mut pages) = (histogram()?, histogram()?);
    while !stop.load(Ordering::Relaxed) {
        let room = some_room(&mut rng, &layout);
        let started = Instant::now();
        if room != home {
            client.join(&room).await?;
            record(&mut joins, started);
            client.part(&room).await?;
        }
        let before = rng.u64(ids.start..ids.end.max(ids.start + 1));
        let started = Instant::now();
        client
            .send(&json!({"type": "history", "room": home, "before": before, "limit": 50}))
            .await?;
        client.until("history_end").await?;
        record(&mut pages, started);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((Latency::of(&joins), Latency::of(&pages)))
}
