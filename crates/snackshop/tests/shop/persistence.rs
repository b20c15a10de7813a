//! The built binary: stock and named balances survive a restart, acknowledged sales survive a
//! crash (SIGKILL), SIGTERM closes the shop gracefully with exit code 0, and `report` reads it all.

use std::path::Path;
use std::process::Command;

use crate::common::{BIN, Customer, Server};

fn report(db: &Path) -> String {
    let out = Command::new(BIN)
        .args(["report", "--lang", "en", "--db"])
        .arg(db)
        .output()
        .expect("run report");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_and_named_balances_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");

    let mut server = Server::start(&db).await;
    let (mut alice, _) = Customer::enter(server.addr).await;
    assert_eq!(
        alice.ask("名字 alice").await,
        "您好,alice!您的余额 100。请问您需要什么?"
    );
    assert_eq!(alice.ask("3 西瓜").await, "购买成功,余额 94(西瓜 ×3,共 6)");
    let (mut anon, _) = Customer::enter(server.addr).await;
    assert_eq!(
        anon.ask("矿泉水").await,
        "购买成功,余额 97.5(矿泉水 ×1,共 2.5)"
    );
    // SIGTERM: everyone inside hears the shop close, and the process exits 0.
    let status = server.terminate().await;
    assert!(status.success(), "graceful exit: {status:?}");
    assert_eq!(alice.line().await, "本店打烊了,欢迎下次光临");
    alice.expect_closed().await;
    assert_eq!(anon.line().await, "本店打烊了,欢迎下次光临");

    let mut server = Server::start(&db).await;
    let (mut back, greeting) = Customer::enter(server.addr).await;
    assert_eq!(
        greeting,
        "目前商店还有:1.瓜子(4.5,剩 100),2.西瓜(2,剩 27),3.矿泉水(2.5,剩 49)。\
         您的余额 100。请问您需要什么?"
    );
    assert_eq!(
        back.ask("name alice").await,
        "您好,alice!您的余额 94。请问您需要什么?"
    );
    assert_eq!(back.ask("西瓜").await, "购买成功,余额 92(西瓜 ×1,共 2)");

    // The report reads the books while the server is running.
    let text = report(&db);
    assert!(
        text.contains("Total: 3 sales, 5 items sold, revenue 10.5. 2 customers."),
        "{text}"
    );
    assert!(
        text.contains("Books check: every balance matches its recorded sales."),
        "{text}"
    );
    let watermelon = text
        .lines()
        .find(|l| l.starts_with("watermelon"))
        .expect("watermelon row");
    let cols: Vec<&str> = watermelon.split_whitespace().collect();
    assert_eq!(
        cols[cols.len() - 5..],
        ["2", "4", "8", "26", "0"],
        "price, sold, revenue, stock, restocked"
    );
    assert!(
        text.contains("customer alice: watermelon × 1, 2 in total, balance 92"),
        "{text}"
    );
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sales_survive_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let mut server = Server::start(&db).await;
    let (mut c, _) = Customer::enter(server.addr).await;
    for left in [98, 96, 94, 92, 90] {
        assert_eq!(
            c.ask("西瓜").await,
            format!("购买成功,余额 {left}(西瓜 ×1,共 2)")
        );
    }
    server.crash().await;

    let text = report(&db);
    assert!(
        text.contains("Total: 5 sales, 5 items sold, revenue 10. 1 customers."),
        "{text}"
    );
    let mut server = Server::start(&db).await;
    let (_c, greeting) = Customer::enter(server.addr).await;
    assert!(greeting.contains("2.西瓜(2,剩 25)"), "{greeting}");
    assert!(server.terminate().await.success());
}

/// Runs `snackshop ARGS --db DB` to completion; returns (success, stdout, stderr).
fn admin(args: &[&str], db: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run snackshop");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restock_and_topup_while_the_shop_is_open_are_in_the_books() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let mut server = Server::start(&db).await;
    let (mut alice, _) = Customer::enter(server.addr).await;
    alice.ask("name alice").await;
    assert_eq!(
        alice.ask("30 西瓜").await,
        "购买成功,余额 40(西瓜 ×30,共 60)"
    );
    assert_eq!(
        alice.ask("西瓜").await,
        "抱歉,西瓜已经卖完了,请选购其他的。"
    );

    let (ok, out, err) = admin(&["restock", "西瓜", "20"], &db);
    assert!(ok, "{err}");
    assert_eq!(out, "西瓜 补货 20 件,现在库存 20。\n");
    let (ok, out, err) = admin(&["topup", "alice", "12.5", "--lang", "en"], &db);
    assert!(ok, "{err}");
    assert_eq!(out, "Topped up alice: +12.5, balance 52.5 now.\n");

    // The open shop sees both at once.
    assert_eq!(alice.ask("余额").await, "您的余额 52.5。");
    assert_eq!(alice.ask("西瓜").await, "购买成功,余额 50.5(西瓜 ×1,共 2)");

    let (ok, _, err) = admin(&["topup", "nobody", "1"], &db);
    assert!(!ok);
    assert!(err.contains("no customer \"nobody\""), "{err}");

    let text = report(&db);
    assert!(
        text.contains("Restocks: 1, 20 items. Top-ups: 1, 12.5 in total."),
        "{text}"
    );
    assert!(
        text.contains("Books check: every balance matches its recorded sales."),
        "{text}"
    );
    drop(alice);
    assert!(server.terminate().await.success());
}

#[test]
fn report_without_a_database_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["report", "--db"])
        .arg(dir.path().join("missing.db"))
        .output()
        .expect("run report");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no shop database at"), "{err}");
}

#[test]
fn serve_refuses_a_bad_catalog_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[[goods]]\nzh = \"西瓜\"\nen = \"bye\"\nprice = 2\nstock = 1\n",
    )
    .expect("write catalog");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--catalog",
        ])
        .arg(&catalog)
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command word"), "{err}");
}
