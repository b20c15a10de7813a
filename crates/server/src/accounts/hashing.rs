//! Password hashing on a small fixed pool of threads, with a bounded queue.
//!
//! argon2id is slow and large on purpose (19 MiB and tens of milliseconds
//! per hash with the default parameters): that is what makes a stolen
//! database expensive to crack, and what makes every check an attacker
//! asks for expensive for the server. Run on the async runtime's blocking
//! pool, a hundred guessing connections meant a hundred threads hashing at
//! once: gigabytes of memory, kept by the allocator afterwards, and every
//! core busy. Here at most `workers` hashes run at once, each worker reusing
//! one memory area; at most `queue` more wait, and past that a check is
//! refused at once ([`HashingError::Busy`]) instead of queueing without end.
//! A worker that has been idle for a while gives its memory back.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use thiserror::Error;
use tokio::sync::oneshot;

/// How long a worker keeps its memory area without work.
const KEEP_MEMORY: Duration = Duration::from_secs(10);

/// Why a password could not be hashed or checked.
#[derive(Debug, Error)]
pub enum HashingError {
    /// Every worker is busy and the queue is full: try again later.
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    /// The hash stored for the account cannot be read, or hashing failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
    /// The pool has stopped (the server is shutting down).
    #[error("password hashing has stopped")]
    Stopped,
}

/// One piece of work for a worker: it runs with the worker's memory area.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The pool; cheap to share behind the accounts.
pub struct Hashing {
    jobs: SyncSender<Job>,
}

impl Hashing {
    /// Starts `workers` threads with room for `queue` waiting jobs.
    pub fn new(workers: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Hashing { jobs })
    }

    /// An argon2id PHC string for `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, HashingError> {
        self.run(move |memory| hash(&password, memory)).await
    }

    /// Whether `password` matches the PHC string `hash`.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, HashingError> {
        self.run(move |memory| verify(&password, &hash, memory))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T, HashingError> + Send + 'static,
    ) -> Result<T, HashingError> {
        let answer = self.submit(work)?;
        answer.await.map_err(|_| HashingError::Stopped)?
    }

    /// Queues `work`, or refuses at once if the queue is full.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T, HashingError> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, HashingError>>, HashingError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = reply.send(work(memory));
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(HashingError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HashingError::Stopped),
        }
    }
}

/// An argon2id PHC string for `password`, hashed right here (for the
/// command line: `chatroom passwd`, operator passwords given as flags).
pub fn hash_password(password: &str) -> Result<String, HashingError> {
    hash(password, &mut Vec::new())
}

/// A worker: runs jobs until the pool is dropped, with one memory area that
/// it frees after a quiet spell.
fn work(jobs: &Mutex<Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let next = match jobs.lock() {
            Ok(rx) => rx.recv_timeout(KEEP_MEMORY),
            // Another worker panicked while holding the queue: stop too.
            Err(_) => return,
        };
        match next {
            Ok(job) => job(&mut memory),
            Err(RecvTimeoutError::Timeout) => memory = Vec::new(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// `memory` sized for `params` (grown once, reused after).
fn blocks<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    let count = params.block_count();
    if memory.len() < count {
        memory.resize(count, Block::default());
    }
    &mut memory[..count]
}

fn hash(password: &str, memory: &mut Vec<Block>) -> Result<String, HashingError> {
    let failed = |e: &dyn std::fmt::Display| HashingError::Failed(e.to_string());
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = argon2::password_hash::generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            blocks(memory, &params),
        )
        .map_err(|e| failed(&e))?;
    // The PHC string of what was just computed: the same parameters and
    // salt, hashed by the library's own path only to format it would cost a
    // second hash, so the string is assembled from its parts.
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| failed(&e))?,
        salt: Some(salt.as_slice().try_into().map_err(|e| failed(&e))?),
        hash: Some(out.as_slice().try_into().map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify(password: &str, hash: &str, memory: &mut Vec<Block>) -> Result<bool, HashingError> {
    let failed = |e: &dyn std::fmt::Display| HashingError::Failed(e.to_string());
    let parsed = PasswordHash::new(hash).map_err(|e| failed(&e))?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(HashingError::Failed(
            "the stored hash has no salt or output".into(),
        ));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| failed(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| failed(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| failed(&e))?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            blocks(memory, &params),
        )
        .map_err(|e| failed(&e))?;
    // `Output`'s equality is constant-time.
    let computed = argon2::password_hash::phc::Output::new(&out).map_err(|e| failed(&e))?;
    Ok(computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    #[tokio::test]
    async fn hashes_verify_are_salted_and_read_by_the_library() {
        let pool = Hashing::new(1, 4).unwrap();
        let a = pool.hash("correct horse".into()).await.unwrap();
        let b = pool.hash("correct horse".into()).await.unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert!(
            pool.verify("correct horse".into(), a.clone())
                .await
                .unwrap()
        );
        assert!(!pool.verify("wrong horse".into(), a.clone()).await.unwrap());
        // What the library itself makes and checks, so stored accounts from
        // earlier versions keep working, and ours are standard strings.
        Argon2::default()
            .verify_password(b"correct horse", a.as_str())
            .unwrap();
        let theirs = Argon2::default()
            .hash_password(b"old password")
            .unwrap()
            .to_string();
        assert!(pool.verify("old password".into(), theirs).await.unwrap());
        assert!(pool.verify("x".into(), "not a hash".into()).await.is_err());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        // One worker, held busy; room for one waiting job.
        let pool = Hashing::new(1, 1).unwrap();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = pool
            .submit(move |_| {
                started.send(()).unwrap();
                held.recv().unwrap();
                Ok(1)
            })
            .unwrap();
        running.recv().unwrap();
        let second = pool.submit(|_| Ok(2)).unwrap();
        assert!(matches!(pool.submit(|_| Ok(3)), Err(HashingError::Busy)));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        // Room again once the queue moved.
        assert_eq!(pool.run(|_| Ok(4)).await.unwrap(), 4);
    }
}
