//! `snackshop buy`: scriptable with piped stdin, exits cleanly after the goodbye, and the
//! library client behind it.

use std::process::Stdio;

use snackshop::ShopConfig;
use snackshop::client;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::common::{TIMEOUT, TestShop};

const BIN: &str = env!("CARGO_BIN_EXE_snackshop");

/// Runs `snackshop buy --server ADDR` with `input` on stdin; returns (success, stdout, stderr).
async fn buy(server: &str, input: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(["buy", "--server", server])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start snackshop buy");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let out = timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("client exits in time")
        .expect("client output");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_buy_exits_after_the_goodbye() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (ok, out, err) = buy(&shop.addr.to_string(), "红牛\n西瓜\n拜拜\n").await;
    assert!(ok, "exit status; stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "目前商店还有:1.瓜子(4.5,剩 100),2.西瓜(2,剩 30),3.矿泉水(2.5,剩 50)。\
             您的余额 100。请问您需要什么?",
            "抱歉,您购买的商品目前没有,请选购其他的。",
            "购买成功,余额 98(西瓜 ×1,共 2)",
            "欢迎下次光临",
        ]
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_buy_without_goodbye_still_prints_every_answer() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (ok, out, err) = buy(&shop.addr.to_string(), "2 西瓜\r\n余额").await;
    assert!(ok, "exit status; stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..],
        ["购买成功,余额 96(西瓜 ×2,共 4)", "您的余额 96。"]
    );
    shop.stop().await;
}

#[tokio::test]
async fn buy_reports_a_shop_that_is_not_there() {
    // A port that was just free on loopback.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let (ok, _, err) = buy(&addr.to_string(), "西瓜\n").await;
    assert!(!ok);
    assert!(err.contains("cannot connect to"), "{err}");
}

#[tokio::test]
async fn library_client_sends_lines_and_collects_answers() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (tx, rx) = mpsc::channel(8);
    for line in [
        "english",
        "3 watermelons",
        "bye",
        "not answered: the shop has closed",
    ] {
        tx.send(line.as_bytes().to_vec()).await.expect("queue line");
    }
    let mut out = Vec::new();
    timeout(TIMEOUT, client::shop(&shop.addr.to_string(), rx, &mut out))
        .await
        .expect("client finishes in time")
        .expect("client succeeds");
    let out = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1..],
        [
            "OK, English from now on.",
            "Bought, balance 94 (watermelon × 3, 6 in total).",
            "Goodbye, welcome back next time!",
        ]
    );
    drop(tx);
    shop.stop().await;
}
