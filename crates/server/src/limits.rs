//! Per-connection rate limiting and per-server admission limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// A sustained message rate with room for bursts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Messages per second allowed on average.
    pub per_second: f64,
    /// Messages allowed at once after a quiet spell (and the size of the
    /// flood allowance: see [`TokenBucket`]).
    pub burst: u32,
}

/// What the bucket says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Pass,
    /// Over the limit: drop it and tell the client.
    Refuse,
    /// Over the limit for too long: disconnect.
    Flood,
}

/// A token bucket with a flood detector.
///
/// Tokens refill at `per_second` up to `burst`; each message takes one. A
/// message that finds no token is refused and counts as a strike; strikes
/// drain at `per_second` too. A client sending at up to twice the limit
/// just loses its excess; one that keeps sending faster piles up strikes,
/// and passing `2 * burst` strikes disconnects it.
///
/// The limit itself is not kept in the bucket (every connection has two
/// buckets, and every idle connection pays for their bytes): callers pass
/// it to [`TokenBucket::take_n`].
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f32,
    strikes: f32,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket {
            tokens: burst(limit),
            strikes: 0.0,
            last: None,
        }
    }

    /// Takes a token for a message arriving at `now`.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Verdict {
        self.take_n(limit, now, 1)
    }

    /// Takes `cost` tokens for something arriving at `now`: refused when
    /// fewer are left (a strike of `cost`), a flood once strikes pass twice
    /// the burst.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "tokens are at most a burst: far inside f32's range and precision"
    )]
    pub fn take_n(&mut self, limit: RateLimit, now: Instant, cost: u32) -> Verdict {
        let cost = cost as f32;
        if let Some(last) = self.last {
            let refill =
                (now.saturating_duration_since(last).as_secs_f64() * limit.per_second) as f32;
            self.tokens = (self.tokens + refill).min(burst(limit));
            self.strikes = (self.strikes - refill).max(0.0);
        }
        self.last = Some(now);
        if self.tokens >= cost {
            self.tokens -= cost;
            return Verdict::Pass;
        }
        self.strikes += cost;
        if self.strikes > 2.0 * burst(limit) {
            Verdict::Flood
        } else {
            Verdict::Refuse
        }
    }
}

/// A limit's burst as a token count.
#[expect(
    clippy::cast_precision_loss,
    reason = "a burst is a small count of messages or cost units"
)]
fn burst(limit: RateLimit) -> f32 {
    limit.burst as f32
}

/// The network an address stands for when counting what one party may do:
/// an IPv4 address itself (an IPv4-mapped IPv6 address as IPv4), an IPv6
/// address's /64, which one machine or household usually has whole.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// At most so many events per network in any hour (rooms created,
/// accounts registered): a token bucket per network ([`network_of`]) that
/// holds `per_hour` tokens and refills at `per_hour` an hour.
pub struct HourlyQuota {
    per_hour: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Most networks an [`HourlyQuota`] remembers; full buckets are forgotten
/// first (a full bucket is the same as none).
const QUOTA_ENTRIES: usize = 65_536;

impl HourlyQuota {
    /// `per_hour` events per network an hour; 0 for no limit.
    pub fn new(per_hour: u32) -> Self {
        HourlyQuota {
            per_hour,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one event for `ip` at `now`; false if its network is out of quota.
    pub fn take(&self, ip: IpAddr, now: Instant) -> bool {
        if self.per_hour == 0 {
            return true;
        }
        let full = f64::from(self.per_hour);
        let refill = |tokens: f64, since: Instant| {
            let hours = now.saturating_duration_since(since).as_secs_f64() / 3600.0;
            (tokens + hours * full).min(full)
        };
        let mut buckets = self.buckets.lock();
        if buckets.len() >= QUOTA_ENTRIES {
            buckets.retain(|_, (tokens, since)| refill(*tokens, *since) < full);
        }
        let network = network_of(ip);
        let (tokens, since) = buckets.get(&network).copied().unwrap_or((full, now));
        let tokens = refill(tokens, since);
        if tokens < 1.0 {
            buckets.insert(network, (tokens, now));
            return false;
        }
        buckets.insert(network, (tokens - 1.0, now));
        true
    }
}

/// How many connections the server takes, in all and per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections at once, in all (0: no limit).
    pub total: usize,
    /// Connections at once from one IP address (0: no limit).
    pub per_ip: usize,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server is full.
    Full,
    /// This address has too many connections.
    TooManyFromAddress,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections against [`ConnectionLimits`].
#[derive(Clone)]
pub struct Admission {
    limits: ConnectionLimits,
    counts: Arc<Mutex<Counts>>,
}

/// Holds one connection's place; dropping it frees the place.
pub struct Ticket {
    /// Counted in the total.
    total: bool,
    /// Counted for this address.
    ip: Option<IpAddr>,
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    /// Nobody admitted yet.
    pub fn new(limits: ConnectionLimits) -> Self {
        Admission {
            limits,
            counts: Arc::default(),
        }
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        self.take(true, Some(ip))
    }

    /// Admits a connection from a trusted reverse proxy: counted in the
    /// total only, since it carries many people's connections; each of
    /// them is counted for its own address once known
    /// ([`Admission::admit_behind_proxy`]).
    pub fn admit_proxy(&self) -> Result<Ticket, Refusal> {
        self.take(true, None)
    }

    /// Admits the client at `ip` behind an admitted proxy connection
    /// (which holds its place in the total): counted for its address.
    pub fn admit_behind_proxy(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        self.take(false, Some(ip))
    }

    /// Takes a place in the total (if `total`) and for `ip` (if any), when
    /// both have room.
    fn take(&self, total: bool, ip: Option<IpAddr>) -> Result<Ticket, Refusal> {
        let mut counts = self.counts.lock();
        if total && self.limits.total > 0 && counts.total >= self.limits.total {
            return Err(Refusal::Full);
        }
        if let Some(ip) = ip {
            let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
            if self.limits.per_ip > 0 && from_ip >= self.limits.per_ip {
                return Err(Refusal::TooManyFromAddress);
            }
            counts.per_ip.insert(ip, from_ip + 1);
        }
        if total {
            counts.total += 1;
        }
        Ok(Ticket {
            total,
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        if self.total {
            counts.total = counts.total.saturating_sub(1);
        }
        if let Some(ip) = self.ip
            && let Some(n) = counts.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limit() -> RateLimit {
        RateLimit {
            per_second: 10.0,
            burst: 5,
        }
    }

    #[test]
    fn a_burst_passes_then_excess_is_refused() {
        let mut bucket = TokenBucket::new(limit());
        let limit = limit();
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(bucket.take(limit, t), Verdict::Pass);
        }
        assert_eq!(bucket.take(limit, t), Verdict::Refuse);
        // A tenth of a second later one token is back.
        assert_eq!(
            bucket.take(limit, t + Duration::from_millis(100)),
            Verdict::Pass
        );
        assert_eq!(
            bucket.take(limit, t + Duration::from_millis(100)),
            Verdict::Refuse
        );
    }

    #[test]
    fn a_sustained_flood_disconnects() {
        let mut bucket = TokenBucket::new(limit());
        let limit = limit();
        let t = Instant::now();
        let verdicts: Vec<Verdict> = (0..20).map(|_| bucket.take(limit, t)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Pass).count(), 5);
        assert_eq!(verdicts.last(), Some(&Verdict::Flood));
    }

    #[test]
    fn twice_the_rate_loses_excess_but_is_not_a_flood() {
        let mut bucket = TokenBucket::new(limit());
        let limit = limit();
        let mut t = Instant::now();
        let mut passed = 0;
        for _ in 0..2000 {
            t += Duration::from_millis(50); // 20 per second against 10 allowed
            match bucket.take(limit, t) {
                Verdict::Pass => passed += 1,
                Verdict::Refuse => {}
                Verdict::Flood => panic!("twice the rate is not a flood"),
            }
        }
        assert!((990..=1010).contains(&passed), "{passed}");
    }

    #[test]
    fn an_hourly_quota_refills_over_the_hour() {
        let quota = HourlyQuota::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Instant::now();
        assert!((0..3).all(|_| quota.take(a, t)));
        assert!(!quota.take(a, t), "the fourth in an hour is refused");
        assert!(quota.take(b, t), "others have their own quota");
        assert!(
            !quota.take(a, t + Duration::from_secs(600)),
            "a sixth of an hour refills half a token"
        );
        assert!(quota.take(a, t + Duration::from_secs(1200)));
        assert!(
            (0..100).all(|_| HourlyQuota::new(0).take(a, t)),
            "0: no limit"
        );
    }

    #[test]
    fn networks_are_ipv4_addresses_and_ipv6_slash_64s() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert_eq!(network_of(ip("10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(network_of(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(network_of(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn costly_requests_take_more_tokens() {
        let limit = RateLimit {
            per_second: 20.0,
            burst: 40,
        };
        let mut bucket = TokenBucket::new(limit);
        let t = Instant::now();
        // Four of cost 10 pass, the fifth is refused; a cheap one too.
        for _ in 0..4 {
            assert_eq!(bucket.take_n(limit, t, 10), Verdict::Pass);
        }
        assert_eq!(bucket.take_n(limit, t, 10), Verdict::Refuse);
        assert_eq!(bucket.take_n(limit, t, 1), Verdict::Refuse);
        // Half a second brings back ten tokens.
        assert_eq!(
            bucket.take_n(limit, t + Duration::from_millis(550), 10),
            Verdict::Pass
        );
        // Strikes count by cost: past twice the burst (80), a flood.
        let later = t + Duration::from_millis(550);
        let verdicts: Vec<Verdict> = (0..9).map(|_| bucket.take_n(limit, later, 10)).collect();
        assert_eq!(verdicts[7], Verdict::Refuse, "{verdicts:?}");
        assert_eq!(verdicts.last(), Some(&Verdict::Flood), "{verdicts:?}");
    }

    #[test]
    fn a_proxy_counts_in_the_total_and_its_clients_per_address() {
        let admission = Admission::new(ConnectionLimits {
            total: 2,
            per_ip: 1,
        });
        let client: IpAddr = "203.0.113.5".parse().unwrap();
        let proxy = admission.admit_proxy().unwrap();
        let _second = admission.admit_proxy().unwrap();
        assert_eq!(admission.admit_proxy().err(), Some(Refusal::Full));
        let behind = admission.admit_behind_proxy(client).unwrap();
        assert_eq!(
            admission.admit_behind_proxy(client).err(),
            Some(Refusal::TooManyFromAddress)
        );
        drop(behind);
        let _again = admission.admit_behind_proxy(client).unwrap();
        drop(proxy);
        assert!(admission.admit_proxy().is_ok(), "the proxy's place is free");
    }

    #[test]
    fn admission_counts_total_and_per_address() {
        let admission = Admission::new(ConnectionLimits {
            total: 3,
            per_ip: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = admission.admit(a).unwrap();
        let _t2 = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Refusal::TooManyFromAddress));
        let _t3 = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).err(), Some(Refusal::Full));
        drop(t1);
        assert!(admission.admit(a).is_ok());
    }
}
