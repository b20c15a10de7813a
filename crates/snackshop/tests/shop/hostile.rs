//! Hostile and careless input: empty lines, a 1 MB line, binary bytes, garbage floods and
//! half-closed connections. Every one gets a polite answer, nothing crashes, and other customers
//! keep shopping.

use snackshop::ShopConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{Customer, TestShop};

const TOO_LONG: &str = "抱歉,您输入的内容太长了(一行最多 1024 字节),请重新输入。";
const NOT_TEXT: &str = "抱歉,无法识别您输入的内容,请使用 UTF-8 或 GBK 编码的文字。";

#[tokio::test]
async fn empty_lines_are_answered_politely() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    c.send_bytes(b"\n\r\n   \t \n").await;
    for _ in 0..3 {
        assert_eq!(c.line().await, "请问您需要什么?(输入 帮助 查看用法)");
    }
    assert!(c.ask("西瓜").await.starts_with("购买成功"));
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_line_is_refused_and_everyone_goes_on() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut other, _) = Customer::enter(shop.addr).await;

    let stream = TcpStream::connect(shop.addr).await.expect("connect");
    let (rd, mut wr) = stream.into_split();
    // Send the megabyte while reading answers, as a real peer would.
    let writer = tokio::spawn(async move {
        let line = vec![b'a'; 1024 * 1024];
        wr.write_all(&line).await.expect("send 1 MB");
        wr.write_all("\n西瓜\n".as_bytes()).await.expect("send");
        wr
    });
    let mut flooder = Customer::from_halves(rd, None);
    let _greeting = flooder.line().await;
    assert_eq!(flooder.line().await, TOO_LONG);
    // Another customer is served while the flood is being discarded.
    assert!(other.ask("瓜子").await.starts_with("购买成功"));
    assert_eq!(flooder.line().await, "购买成功,余额 98(西瓜 ×1,共 2)");
    let wr = writer.await.expect("writer");
    flooder.set_writer(wr);
    assert_eq!(flooder.ask("拜拜").await, "欢迎下次光临");
    flooder.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn binary_bytes_are_answered_politely() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    // Invalid UTF-8, a NUL, telnet negotiation (IAC DO ECHO) and a truncated character.
    c.send_bytes(b"\xff\xfe\x00\x80junk\n").await;
    assert_eq!(c.line().await, NOT_TEXT);
    c.send_bytes(b"\xff\xfd\x01\n").await;
    assert_eq!(c.line().await, NOT_TEXT);
    assert!(
        c.ask("西瓜").await.starts_with("购买成功"),
        "a good line resets the count"
    );
    // Cut short: a UTF-8 lead byte that is no GBK character either.
    c.send_bytes(b"\xe8\n").await;
    assert_eq!(c.line().await, NOT_TEXT);
    // Valid UTF-8 that is not an order: control characters and stray symbols.
    assert_eq!(
        c.ask("\u{1b}[2J\u{7}").await,
        "抱歉,您购买的商品目前没有,请选购其他的。"
    );
    assert_eq!(c.ask("拜拜").await, "欢迎下次光临");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn three_unreadable_lines_in_a_row_close_the_connection() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    let mut garbage = Vec::new();
    garbage.extend_from_slice(b"\xff\n");
    garbage.extend_from_slice(&vec![b'x'; 5000]);
    garbage.extend_from_slice(b"\n\xff\xff\n");
    c.send_bytes(&garbage).await;
    assert_eq!(c.line().await, NOT_TEXT);
    assert_eq!(c.line().await, TOO_LONG);
    assert_eq!(c.line().await, "您连续发送了太多无法识别的内容,再见。");
    c.expect_closed().await;
    // The shop itself is fine.
    let (mut next, greeting) = Customer::enter(shop.addr).await;
    assert!(greeting.starts_with("目前商店还有"));
    assert!(next.ask("西瓜").await.starts_with("购买成功"));
    shop.stop().await;
}

#[tokio::test]
async fn a_customer_who_stops_sending_still_gets_every_answer() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    // Like `printf '西瓜\n2 西瓜' | nc`: several lines at once, the last without a newline.
    c.send_bytes("西瓜\n2 西瓜".as_bytes()).await;
    c.finish_sending().await;
    assert_eq!(c.line().await, "购买成功,余额 98(西瓜 ×1,共 2)");
    assert_eq!(c.line().await, "购买成功,余额 94(西瓜 ×2,共 4)");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn customers_who_vanish_mid_line_do_not_disturb_the_shop() {
    let shop = TestShop::start(ShopConfig::default()).await;
    for partial in [&b"\xe8"[..], b"\xe8\xa5", "西瓜".as_bytes(), b"2 "] {
        let mut stream = TcpStream::connect(shop.addr).await.expect("connect");
        stream.write_all(partial).await.expect("send");
        drop(stream);
    }
    let (mut c, greeting) = Customer::enter(shop.addr).await;
    assert!(greeting.starts_with("目前商店还有"));
    assert!(c.ask("瓜子").await.starts_with("购买成功"));
    shop.stop().await;
}
