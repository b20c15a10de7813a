//! GBK customers (the tutorial's section 5.1 client, NetAssist on Chinese
//! Windows): the shop detects the encoding of each connection (valid UTF-8,
//! or else GBK) and answers in it; `--encoding gbk` or `utf-8` fixes it.

use snackshop::{ShopConfig, WireEncoding};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::timeout;

use crate::common::{Customer, TIMEOUT, TestShop};

const ZH_GREETING: &str = "目前商店还有:1.瓜子(4.5,剩 100),2.西瓜(2,剩 30),3.矿泉水(2.5,剩 50)。\
                           您的余额 100。请问您需要什么?";

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "{text} is GBK");
    bytes.into_owned()
}

/// The next CRLF line, decoded as GBK (strictly: anything else fails the test).
async fn gbk_line(reader: &mut BufReader<OwnedReadHalf>) -> String {
    let mut buf = Vec::new();
    timeout(TIMEOUT, reader.read_until(b'\n', &mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    assert!(buf.ends_with(b"\r\n"), "a CRLF line: {buf:?}");
    buf.truncate(buf.len() - 2);
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(&buf)
        .unwrap_or_else(|| panic!("not GBK: {buf:?}"))
        .into_owned()
}

#[tokio::test]
async fn a_gbk_customer_who_speaks_first_is_greeted_and_answered_in_gbk() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let stream = TcpStream::connect(shop.addr).await.expect("connect");
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    // Like the tutorial's 5.1 client: GBK, no line end, right after connecting.
    wr.write_all(&gbk("2 西瓜")).await.expect("send");
    assert_eq!(gbk_line(&mut rd).await, ZH_GREETING);
    assert_eq!(gbk_line(&mut rd).await, "购买成功,余额 96(西瓜 ×2,共 4)");
    wr.write_all(&gbk("余额\r\n")).await.expect("send");
    assert_eq!(gbk_line(&mut rd).await, "您的余额 96。");
    drop((rd, wr));
    shop.stop().await;
}

#[tokio::test]
async fn a_customer_who_switches_to_gbk_is_answered_in_gbk() {
    let shop = TestShop::start(ShopConfig::default()).await;
    // Says nothing at first: greeted in UTF-8 after the short wait.
    let (mut c, greeting) = Customer::enter(shop.addr).await;
    assert_eq!(greeting, ZH_GREETING);
    c.send_bytes(&gbk("西瓜\n")).await;
    let mut answer = c.raw_line().await;
    answer.truncate(answer.len() - 2);
    assert_eq!(
        encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(&answer),
        Some("购买成功,余额 98(西瓜 ×1,共 2)".into())
    );
    // ASCII is the same in both; UTF-8 Chinese switches back.
    c.send_bytes("余额\n".as_bytes()).await;
    assert_eq!(c.line().await, "您的余额 98。");
    drop(c);
    shop.stop().await;
}

#[tokio::test]
async fn text_in_neither_encoding_is_refused_naming_both() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    // 0xff starts no character in UTF-8 or GBK; a lone GBK lead byte ends early.
    for bytes in [&b"\xff\xfe junk\n"[..], b"\x81\n"] {
        c.send_bytes(bytes).await;
        assert_eq!(
            c.line().await,
            "抱歉,无法识别您输入的内容,请使用 UTF-8 或 GBK 编码的文字。"
        );
    }
    drop(c);
    shop.stop().await;
}

#[tokio::test]
async fn a_fixed_encoding_greets_at_once_in_it() {
    let shop = TestShop::start(ShopConfig {
        encoding: WireEncoding::Gbk,
        ..ShopConfig::default()
    })
    .await;
    let stream = TcpStream::connect(shop.addr).await.expect("connect");
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    assert_eq!(gbk_line(&mut rd).await, ZH_GREETING);
    wr.write_all(&gbk("瓜子\n")).await.expect("send");
    assert_eq!(
        gbk_line(&mut rd).await,
        "购买成功,余额 95.5(瓜子 ×1,共 4.5)"
    );
    // UTF-8 that is not GBK is not text to a GBK shop.
    wr.write_all(b"\xe8\xa5\xbf\xe7\x93\n").await.expect("send");
    assert_eq!(
        gbk_line(&mut rd).await,
        "抱歉,无法识别您输入的内容,请使用 GBK 编码的文字。"
    );
    drop((rd, wr));
    shop.stop().await;
}
