//! What the shop logs: a busy shop must not write a line per sale at the
//! default level (INFO); it sums sales up periodically instead.
//!
//! A test binary of its own: `tracing` caches per call site whether anyone
//! listens, process-wide, so a thread-local subscriber must not race with
//! other tests' shops logging from other threads.

#[allow(dead_code)]
#[path = "shop/common.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use snackshop::ShopConfig;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use common::{Customer, TIMEOUT, TestShop};

/// Every event logged on this thread, as (level, message and fields).
#[derive(Clone, Default)]
struct Logs {
    events: Arc<Mutex<Vec<(Level, String)>>>,
    added: Arc<Notify>,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Logs {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.events
            .lock()
            .expect("lock")
            .push((*event.metadata().level(), fields.0));
        self.added.notify_waiters();
    }
}

impl Logs {
    fn at(&self, level: Level) -> Vec<String> {
        let events = self.events.lock().expect("lock");
        events
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, text)| text.clone())
            .collect()
    }

    async fn wait_for(&self, level: Level, needle: &str) -> String {
        let wait = async {
            loop {
                let added = self.added.notified();
                tokio::pin!(added);
                added.as_mut().enable();
                if let Some(found) = self.at(level).into_iter().find(|e| e.contains(needle)) {
                    return found;
                }
                added.await;
            }
        };
        tokio::time::timeout(TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {level} event with {needle:?}: {:?}",
                    self.events.lock().expect("lock")
                )
            })
    }
}

// One thread (the default test runtime), so every task's events reach the
// subscriber set for this thread.
#[tokio::test]
async fn sales_are_logged_at_debug_and_summed_up_at_info() {
    let logs = Logs::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(logs.clone()));
    let shop = TestShop::start(ShopConfig {
        summary_every: Duration::from_millis(200),
        ..ShopConfig::default()
    })
    .await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert!(c.ask("2 西瓜").await.starts_with("购买成功"));
    assert!(c.ask("瓜子").await.starts_with("购买成功"));
    let summary = logs.wait_for(Level::INFO, "sales=2").await;
    assert!(summary.contains("items=3"), "{summary}");
    assert!(summary.contains("revenue=8.5"), "{summary}");
    assert!(summary.contains("inside=1"), "{summary}");
    // The arrival may fall in an earlier period than the sales.
    let summaries = logs.at(Level::INFO);
    let arrived: Vec<&String> = summaries
        .iter()
        .filter(|e| e.contains("arrived=1"))
        .collect();
    assert_eq!(arrived.len(), 1, "{summaries:?}");

    let sold = logs.at(Level::DEBUG);
    assert_eq!(
        sold.iter().filter(|e| e.contains("message=sold ")).count(),
        2,
        "{sold:?}"
    );
    let info = logs.at(Level::INFO);
    assert!(
        info.iter()
            .all(|e| !e.contains("message=sold ") && !e.contains("customer arrived")),
        "no INFO line per sale or per customer: {info:?}"
    );
    drop(c);
    shop.stop().await;
}
