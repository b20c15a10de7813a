//! Many customers at once: stock is never oversold, no purchase is lost and no balance goes
//! negative, whatever the interleaving. Checked against what the database recorded.

use std::sync::Arc;

use snackshop::report;
use snackshop::{DbLocation, Limits, ShopConfig};
use tokio::sync::Barrier;

use crate::common::{Customer, TestShop, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_customers_race_for_the_last_fifty() {
    const CUSTOMERS: usize = 200;
    const STOCK: u32 = 50;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("race.db");
    let goods = [
        ("辣条", "spicy strip", "1", STOCK),
        ("西瓜", "watermelon", "2", 5),
    ];
    let shop = TestShop::start(ShopConfig {
        db: DbLocation::File(db.clone()),
        // All of them come from 127.0.0.1.
        limits: Limits {
            max_per_address: CUSTOMERS,
            ..Limits::default()
        },
        ..config(&goods, "10")
    })
    .await;

    // Everyone is inside and greeted before anyone buys, then all buy at once.
    let barrier = Arc::new(Barrier::new(CUSTOMERS));
    let mut tasks = Vec::new();
    for _ in 0..CUSTOMERS {
        let barrier = barrier.clone();
        let addr = shop.addr;
        tasks.push(tokio::spawn(async move {
            let (mut c, greeting) = Customer::enter(addr).await;
            assert!(greeting.contains("辣条"), "{greeting}");
            barrier.wait().await;
            c.ask("辣条").await
        }));
    }
    let mut bought = 0;
    let mut sold_out = 0;
    for task in tasks {
        let reply = task.await.expect("customer task");
        if reply == "购买成功,余额 9(辣条 ×1,共 1)" {
            bought += 1;
        } else if reply == "抱歉,辣条已经卖完了,请选购其他的。" {
            sold_out += 1;
        } else {
            panic!("unexpected reply {reply:?}");
        }
    }
    assert_eq!(bought, 50, "exactly the stock is sold");
    assert_eq!(sold_out, 150);

    // The books agree, read while the shop is still open (WAL) ...
    let live = report::load(&db, 100).expect("report while serving");
    check_books(&live, STOCK);
    shop.stop().await;
    // ... and after it closed.
    let closed = report::load(&db, 100).expect("report after closing");
    check_books(&closed, STOCK);
}

fn check_books(report: &report::Report, stock: u32) {
    let strips = &report.goods[0];
    assert_eq!(strips.zh, "辣条");
    assert_eq!(strips.stock, 0, "stock ends at 0");
    assert_eq!(strips.sold, u64::from(stock));
    assert_eq!(report.sales, u64::from(stock), "exactly 50 sales recorded");
    assert_eq!(report.revenue.cents(), u64::from(stock) * 100);
    assert_eq!(
        report.customers,
        u64::from(stock),
        "only buyers get an account"
    );
    assert!(
        report.mismatched.is_empty(),
        "balances match sales: {:?}",
        report.mismatched
    );
    assert_eq!(report.recent.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wallet_on_many_connections_never_goes_negative() {
    const CONNECTIONS: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("wallet.db");
    let goods = [("辣条", "spicy strip", "1", 1000)];
    // Each connection tries to spend 3 of the shared 10: at most 3 can.
    let shop = TestShop::start(ShopConfig {
        db: DbLocation::File(db.clone()),
        ..config(&goods, "10")
    })
    .await;
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let barrier = barrier.clone();
        let addr = shop.addr;
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = Customer::enter(addr).await;
            let hello = c.ask("name family").await;
            assert!(hello.starts_with("您好,family!"), "{hello}");
            barrier.wait().await;
            c.ask("3 辣条").await
        }));
    }
    let mut bought = Vec::new();
    for task in tasks {
        let reply = task.await.expect("customer task");
        if reply.starts_with("购买成功") {
            bought.push(reply);
        } else {
            assert!(
                reply.starts_with("抱歉,您的余额不足:需要 3,余额只有 1"),
                "{reply}"
            );
        }
    }
    bought.sort();
    assert_eq!(
        bought,
        [
            "购买成功,余额 1(辣条 ×3,共 3)",
            "购买成功,余额 4(辣条 ×3,共 3)",
            "购买成功,余额 7(辣条 ×3,共 3)",
        ]
    );
    shop.stop().await;
    let books = report::load(&db, 10).expect("report");
    assert_eq!(books.sales, 3);
    assert_eq!(books.goods[0].stock, 1000 - 9);
    assert_eq!(books.customers, 1);
    assert!(books.mismatched.is_empty());
}
