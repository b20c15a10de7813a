//! The document's dialogue, in Chinese and English, and the rest of what a customer can say.

use std::time::Duration;

use snackshop::{Lang, Limits, ShopConfig};

use crate::common::{Customer, TestShop, config};

const ZH_GREETING: &str = "目前商店还有:1.瓜子(4.5,剩 100),2.西瓜(2,剩 30),3.矿泉水(2.5,剩 50)。\
                           您的余额 100。请问您需要什么?";

#[tokio::test]
async fn chinese_dialogue_follows_the_document() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, greeting) = Customer::enter(shop.addr).await;
    assert_eq!(greeting, ZH_GREETING);
    assert_eq!(
        c.ask("红牛").await,
        "抱歉,您购买的商品目前没有,请选购其他的。"
    );
    assert_eq!(c.ask("西瓜").await, "购买成功,余额 98(西瓜 ×1,共 2)");
    assert_eq!(c.ask("瓜子").await, "购买成功,余额 93.5(瓜子 ×1,共 4.5)");
    assert_eq!(c.ask("拜拜").await, "欢迎下次光临");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn english_dialogue() {
    let shop = TestShop::start(ShopConfig {
        lang: Lang::En,
        ..ShopConfig::default()
    })
    .await;
    let (mut c, greeting) = Customer::enter(shop.addr).await;
    assert_eq!(
        greeting,
        "We have: 1. sunflower seeds (4.5, 100 left), 2. watermelon (2, 30 left), \
         3. mineral water (2.5, 50 left). Your balance is 100. What would you like?"
    );
    assert_eq!(
        c.ask("red bull").await,
        "Sorry, we don't have that. Please choose something else."
    );
    assert_eq!(
        c.ask("watermelon").await,
        "Bought, balance 98 (watermelon × 1, 2 in total)."
    );
    // Chinese names work on an English shop too, and answers stay in English.
    assert_eq!(
        c.ask("矿泉水").await,
        "Bought, balance 95.5 (mineral water × 1, 2.5 in total)."
    );
    assert_eq!(c.ask("bye").await, "Goodbye, welcome back next time!");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn goods_by_number_either_name_and_quantity() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert_eq!(c.ask("2 西瓜").await, "购买成功,余额 96(西瓜 ×2,共 4)");
    assert_eq!(c.ask("西瓜 2").await, "购买成功,余额 92(西瓜 ×2,共 4)");
    assert_eq!(
        c.ask("2x watermelon").await,
        "购买成功,余额 88(西瓜 ×2,共 4)"
    );
    assert_eq!(c.ask("3").await, "购买成功,余额 85.5(矿泉水 ×1,共 2.5)");
    assert_eq!(c.ask("两个瓜子").await, "购买成功,余额 76.5(瓜子 ×2,共 9)");
    // CRLF as telnet sends it.
    c.send_bytes("Watermelon\r\n".as_bytes()).await;
    assert_eq!(c.line().await, "购买成功,余额 74.5(西瓜 ×1,共 2)");
    assert_eq!(
        c.ask("菜单").await,
        "目前商店还有:1.瓜子(4.5,剩 98),2.西瓜(2,剩 23),3.矿泉水(2.5,剩 49)。\
         您的余额 74.5。请问您需要什么?"
    );
    shop.stop().await;
}

#[tokio::test]
async fn refusals_say_why_and_change_nothing() {
    let goods = [("辣条", "spicy strip", "1", 2), ("可乐", "cola", "30", 10)];
    let shop = TestShop::start(config(&goods, "50")).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert_eq!(c.ask("3 辣条").await, "抱歉,辣条库存不足:只剩 2,您要 3。");
    assert_eq!(c.ask("2 辣条").await, "购买成功,余额 48(辣条 ×2,共 2)");
    assert_eq!(c.ask("辣条").await, "抱歉,辣条已经卖完了,请选购其他的。");
    assert_eq!(
        c.ask("2 可乐").await,
        "抱歉,您的余额不足:需要 60,余额只有 48。"
    );
    assert_eq!(c.ask("0 可乐").await, "抱歉,购买数量至少为 1。");
    assert_eq!(c.ask("1000 可乐").await, "抱歉,一次最多购买 999 件。");
    assert_eq!(c.ask("余额").await, "您的余额 48。");
    assert_eq!(c.ask("english").await, "OK, English from now on.");
    assert_eq!(
        c.ask("spicy strip").await,
        "Sorry, spicy strip is sold out. Please choose something else."
    );
    assert_eq!(
        c.ask("20 cola").await,
        "Sorry, only 10 cola left, you asked for 20."
    );
    assert_eq!(
        c.ask("2 cola").await,
        "Sorry, not enough money: that costs 60 and your balance is 48."
    );
    assert_eq!(c.ask("balance").await, "Your balance is 48.");
    shop.stop().await;
}

#[tokio::test]
async fn quantities_in_chinese_numerals_or_not_understood() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert_eq!(
        c.ask("十一个西瓜").await,
        "购买成功,余额 78(西瓜 ×11,共 22)"
    );
    let not_understood = "抱歉,没看懂您要买多少:数量请写 1 到 999 的整数(如 2 西瓜),\
                          或中文的一到九十九(如 十一个西瓜)。";
    for line in ["-1 西瓜", "1.5 西瓜", "一百个西瓜"] {
        assert_eq!(c.ask(line).await, not_understood, "{line}");
    }
    assert_eq!(c.ask("english").await, "OK, English from now on.");
    assert_eq!(
        c.ask("1.5 watermelons").await,
        "Sorry, I don't understand that quantity: use a whole number from 1 to 999, \
         e.g. 2 watermelon."
    );
    drop(c);
    shop.stop().await;
}

#[tokio::test]
async fn help_menu_and_language_switch() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, greeting) = Customer::enter(shop.addr).await;
    let help = c.ask("帮助").await;
    assert!(help.contains("拜拜") && help.contains("菜单"), "{help}");
    assert_eq!(c.ask("").await, "请问您需要什么?(输入 帮助 查看用法)");
    assert_eq!(c.ask("菜单").await, greeting);
    assert_eq!(c.ask("english").await, "OK, English from now on.");
    let help = c.ask("help").await;
    assert!(help.contains("bye") && help.contains("menu"), "{help}");
    assert!(
        c.ask("menu")
            .await
            .starts_with("We have: 1. sunflower seeds (4.5, 100 left)")
    );
    assert_eq!(c.ask("中文").await, "好的,以后用中文为您服务。");
    assert_eq!(c.ask("再见").await, "欢迎下次光临");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn named_customer_keeps_balance_between_visits() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert_eq!(
        c.ask("名字 alice").await,
        "您好,alice!您的余额 100。请问您需要什么?"
    );
    assert_eq!(c.ask("西瓜").await, "购买成功,余额 98(西瓜 ×1,共 2)");
    assert_eq!(c.ask("拜拜").await, "欢迎下次光临");
    c.expect_closed().await;

    let (mut again, greeting) = Customer::enter(shop.addr).await;
    assert!(
        greeting.contains("您的余额 100"),
        "a new visit starts anonymous: {greeting}"
    );
    assert_eq!(
        again.ask("name alice").await,
        "您好,alice!您的余额 98。请问您需要什么?"
    );
    assert_eq!(again.ask("余额").await, "您的余额 98。");

    // An anonymous customer who already bought cannot move to a name (their money would vanish).
    let (mut anon, _) = Customer::enter(shop.addr).await;
    assert_eq!(anon.ask("西瓜").await, "购买成功,余额 98(西瓜 ×1,共 2)");
    assert_eq!(
        anon.ask("名字 bob").await,
        "您已经匿名购物了;如需记名,请重新连接后先输入 名字 张三。"
    );
    assert_eq!(
        anon.ask("名字").await,
        "抱歉,名字应为 1 到 32 个字符,不能包含控制字符。"
    );
    shop.stop().await;
}

#[tokio::test]
async fn several_customers_at_once_each_with_their_own_balance() {
    let shop = TestShop::start(ShopConfig::default()).await;
    // All inside at the same time, served in turn-independent order.
    let mut customers = Vec::new();
    for _ in 0..5 {
        customers.push(Customer::enter(shop.addr).await.0);
    }
    for (i, c) in customers.iter_mut().enumerate().rev() {
        let qty = i + 1;
        let left = 100 - 2 * qty;
        assert_eq!(
            c.ask(&format!("{qty} 西瓜")).await,
            format!("购买成功,余额 {left}(西瓜 ×{qty},共 {})", 2 * qty)
        );
    }
    let stock_line = customers[0].ask("菜单").await;
    assert!(
        stock_line.contains("2.西瓜(2,剩 15)"),
        "30 - (1+2+3+4+5) = 15: {stock_line}"
    );
    shop.stop().await;
}

#[tokio::test]
async fn shutdown_says_goodbye_to_everyone_inside() {
    let shop = TestShop::start(ShopConfig::default()).await;
    let addr = shop.addr;
    let (mut a, _) = Customer::enter(addr).await;
    let (mut b, _) = Customer::enter(addr).await;
    assert!(b.ask("西瓜").await.starts_with("购买成功"));
    let closing = tokio::spawn(shop.stop());
    assert_eq!(a.line().await, "本店打烊了,欢迎下次光临");
    assert_eq!(b.line().await, "本店打烊了,欢迎下次光临");
    a.expect_closed().await;
    b.expect_closed().await;
    drop((a, b));
    closing.await.expect("shop closed cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_full_shop_turns_customers_away_politely() {
    let limits = Limits {
        max_customers: 1,
        ..Limits::default()
    };
    let shop = TestShop::start(ShopConfig {
        limits,
        ..ShopConfig::default()
    })
    .await;
    let (mut inside, _) = Customer::enter(shop.addr).await;
    let mut turned_away = Customer::connect(shop.addr).await;
    assert_eq!(turned_away.line().await, "抱歉,店里人太多了,请稍后再来。");
    turned_away.expect_closed().await;
    assert!(
        inside.ask("西瓜").await.starts_with("购买成功"),
        "the customer inside is unaffected"
    );
    shop.stop().await;
}

#[tokio::test]
async fn an_idle_customer_is_shown_out() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let shop = TestShop::start(ShopConfig {
        limits,
        ..ShopConfig::default()
    })
    .await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    assert_eq!(c.line().await, "您很久没有说话了,欢迎下次光临");
    c.expect_closed().await;
    shop.stop().await;
}

#[tokio::test]
async fn a_request_without_a_line_end_is_answered_after_a_pause() {
    // Like the tutorial's section 6 client: `s.send(cmd.encode())`, no "\n".
    let shop = TestShop::start(ShopConfig::default()).await;
    let (mut c, _) = Customer::enter(shop.addr).await;
    c.send_bytes("西瓜".as_bytes()).await;
    assert_eq!(c.line().await, "购买成功,余额 98(西瓜 ×1,共 2)");
    c.send_bytes("2 西瓜".as_bytes()).await;
    assert_eq!(c.line().await, "购买成功,余额 94(西瓜 ×2,共 4)");
    // Lines with a line end work as before, and CRLF clients are unaffected.
    assert_eq!(c.ask("余额").await, "您的余额 94。");
    c.send_bytes("拜拜".as_bytes()).await;
    assert_eq!(c.line().await, "欢迎下次光临");
    c.expect_closed().await;
    drop(c);
    shop.stop().await;
}
