//! Password guessing: a hundred connections from one address guessing one
//! account's password get few guesses, cost the server bounded memory, and
//! do not stop others from logging in or chatting.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chatroom_testkit::{Raw, connect_from};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::support::start;

const PASSWORD: &str = "correct horse battery";
const GUESSERS: usize = 100;
/// How long the guessing goes on.
const GUESSING: Duration = Duration::from_secs(4);
/// Each guesser gives up after this many attempts, whatever happens.
const MOST_ATTEMPTS: usize = 500;

/// What one guesser's attempts came to.
#[derive(Default)]
struct Tally {
    /// Answered `wrong_password`: a password was really checked.
    checked: usize,
    /// Refused before any check (`too_many_attempts`, `server_busy`, or
    /// the connection's request rate limit).
    refused: usize,
    /// Answers read, of either kind.
    attempts: usize,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.checked += other.checked;
        self.refused += other.refused;
        self.attempts += other.attempts;
    }
}

/// Guesses `victim`'s password from `source` until `until`, reconnecting
/// whenever the server closes the connection.
async fn guesser(addr: SocketAddr, source: IpAddr, victim: String, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut attempt = 0;
    'connections: while Instant::now() < until && attempt < MOST_ATTEMPTS {
        let stream = connect_from(addr, source).await;
        let (reader, mut writer) = stream.into_split();
        let mut lines = BufReader::new(reader).lines();
        while Instant::now() < until && attempt < MOST_ATTEMPTS {
            attempt += 1;
            let guess = json!({"type": "login", "nickname": &victim, "password": format!("guess {attempt}")});
            if writer
                .write_all(guess.to_string().as_bytes())
                .await
                .is_err()
            {
                continue 'connections;
            }
            let Ok(Some(line)) = lines.next_line().await else {
                continue 'connections;
            };
            let frame: Value = serde_json::from_str(&line).unwrap();
            match frame["code"].as_str() {
                Some("wrong_password") => tally.checked += 1,
                // Refused, or (flood) the connection closing for asking
                // too often.
                Some("too_many_attempts" | "server_busy" | "rate_limited" | "flood") => {
                    tally.refused += 1;
                }
                _ => panic!("a guess got {frame}"),
            }
            tally.attempts += 1;
        }
    }
    tally
}

/// What a guessing run did to the server and to everyone else.
struct Outcome {
    tally: Tally,
    /// The slowest chat message between two bystanders.
    slowest: Duration,
    /// How long a login with the right password took at the end.
    login_took: Duration,
    before_kib: u64,
    peak_kib: u64,
}

/// Registers the accounts, then runs `GUESSERS` guessers (`who(i)` says
/// where guesser `i` connects from and whose password it guesses) while
/// two bystanders chat, then logs in with the right password from an
/// address nobody guessed from.
async fn run_guessing(who: impl Fn(usize) -> (IpAddr, String)) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    // Registering the victims is not what is measured: no quota.
    let server = start(dir.path(), &["--registrations-per-hour", "0"]).await;
    let mut victims: Vec<String> = (0..GUESSERS).map(|i| who(i).1).collect();
    victims.sort();
    victims.dedup();
    victims.push("regular".to_owned());
    for nick in &victims {
        let mut c = Raw::connect(server.addr()).await;
        c.send_json(json!({"type": "register", "nickname": nick, "password": PASSWORD}))
            .await;
        c.recv_type("registered").await;
    }
    let mut alice = Raw::login(server.addr(), "alice").await;
    let mut bob = Raw::login(server.addr(), "bob").await;
    alice.recv_type("presence").await;
    let before_kib = server.status_kib("VmRSS");

    let until = Instant::now() + GUESSING;
    let guessers: Vec<_> = (0..GUESSERS)
        .map(|i| {
            let (source, victim) = who(i);
            tokio::spawn(guesser(server.addr(), source, victim, until))
        })
        .collect();
    // Meanwhile, people chat.
    let mut chat = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        let sent = Instant::now();
        alice.say(&format!("still here {n}")).await;
        let m = bob.recv_type("message").await;
        assert_eq!(m["message"], format!("still here {n}"));
        chat.push(sent.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chat.sort();
    let slowest = chat.last().copied().unwrap_or_default();
    let p99 = chat[(chat.len() * 99 / 100).min(chat.len() - 1)];
    let mut tally = Tally::default();
    for g in guessers {
        tally.add(g.await.unwrap());
    }
    let login_started = Instant::now();
    let mut regular = Raw::connect_from(server.addr(), "127.0.1.1".parse().unwrap()).await;
    regular
        .send_json(json!({"type": "login", "nickname": "regular", "password": PASSWORD}))
        .await;
    let welcome = regular.recv().await;
    let login_took = login_started.elapsed();
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let peak_kib = server.status_kib("VmHWM");
    eprintln!(
        "{} attempts: {} passwords checked, {} refused; chat p99 {p99:?}, slowest {slowest:?} \
         ({} messages), a login {login_took:?}; RSS {before_kib} KiB before, peak {peak_kib} KiB",
        tally.attempts,
        tally.checked,
        tally.refused,
        chat.len()
    );
    assert_eq!(server.stop().await.code, Some(0));
    Outcome {
        tally,
        slowest,
        login_took,
        before_kib,
        peak_kib,
    }
}

/// Generous bounds, not timings: what failed before was gigabytes and
/// seconds.
fn assert_harmless(outcome: &Outcome) {
    let Outcome {
        slowest,
        login_took,
        before_kib,
        peak_kib,
        ..
    } = *outcome;
    assert!(
        peak_kib < before_kib + 256 * 1024,
        "guessing took the server from {before_kib} KiB to {peak_kib} KiB"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "chat stalled for {slowest:?}"
    );
    assert!(
        login_took < Duration::from_secs(5),
        "a login took {login_took:?}"
    );
}

/// A hundred connections from one address guess one account's password:
/// they get a handful of checks between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_guessers_from_one_address_get_a_handful_of_checks() {
    let outcome = run_guessing(|_| ("127.0.0.1".parse().unwrap(), "victim".to_owned())).await;
    assert_harmless(&outcome);
    assert!(
        outcome.tally.checked <= 20,
        "{} guesses were checked in {GUESSING:?} from one address",
        outcome.tally.checked
    );
    assert!(outcome.tally.refused > 0, "the guessers were never refused");
}

/// A hundred addresses guessing a hundred accounts: every one gets its few
/// free checks, so the server hashes as fast as it can; its memory stays
/// bounded and others still chat and log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_addresses_guessing_keep_memory_bounded() {
    let outcome = run_guessing(|i| {
        let source = IpAddr::from([127, 0, 2, u8::try_from(i + 1).unwrap()]);
        (source, format!("victim{i}"))
    })
    .await;
    assert_harmless(&outcome);
    assert!(
        outcome.tally.checked > 0 && outcome.tally.refused > 0,
        "both checked and refused: {} and {}",
        outcome.tally.checked,
        outcome.tally.refused
    );
}
