//! Room operators in the web client, in two real browsers (the harness of
//! `web_browser`): a room's creator sees themselves marked `@`, and when
//! they make someone else an operator with `/op`, that person's member
//! list marks them too, live, and their timeline says who did it; someone
//! who goes `/away` shows so in the other's member list until they are
//! back.
//!
//! Skipped (loudly) without chromium and chromedriver, unless
//! `CHATROOM_E2E=require`.

use fantoccini::Locator;

use crate::web_browser::{Browser, ONE_SCENE_AT_A_TIME, browser_available, http_addr, serve};

/// The XPath of `nick`'s entry in the member list shown, with `mark` (`@`,
/// `+` or nothing) before the name.
fn member(nick: &str, mark: &str) -> String {
    format!(
        "//ul[@id='member-list']/li[span[contains(@class,'rank')]='{mark}' and button='{nick}']"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_marked_and_opping_shows_in_the_other_browser() {
    if !browser_available() {
        return;
    }
    let _scene = ONE_SCENE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path(), 0, 0, 0).await;
    let url = format!("http://{}/", http_addr(&server));

    let ann = Browser::start(1200, 800).await;
    let ben = Browser::start(1200, 800).await;
    ann.login(&url, "ann").await;
    ben.login(&url, "ben").await;

    // The creator of a room is its operator.
    ann.say("/join den").await;
    ann.wait_for(Locator::XPath(&member("ann", "@"))).await;
    ben.say("/join den").await;
    ben.wait_for(Locator::XPath(&member("ann", "@"))).await;
    ben.wait_for(Locator::XPath(&member("ben", ""))).await;
    ann.wait_for(Locator::XPath(&member("ben", ""))).await;

    // Opping ben changes his badge in his own browser, live.
    ann.say("/op ben").await;
    ben.wait_for(Locator::XPath(&member("ben", "@"))).await;
    ben.wait_for_line("ann gives operator status to ben").await;
    ann.wait_for(Locator::XPath(&member("ben", "@"))).await;
    // Screen readers hear the rank in words.
    let label = ben
        .client
        .find(Locator::XPath(&format!(
            "{}/span[@class='visually-hidden']",
            member("ben", "@")
        )))
        .await
        .unwrap()
        .html(true)
        .await
        .unwrap();
    assert_eq!(label, " (operator)");

    // Away: the other browser's member list dims ann and says why, in
    // the button's title and in words for screen readers; back, it no
    // longer does.
    let away = "//ul[@id='member-list']/li[contains(@class,'away') and button='ann']";
    ann.say("/away at lunch").await;
    let title = ben
        .wait_for(Locator::XPath(&format!("{away}/button")))
        .await
        .attr("title")
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Message ann (away: at lunch)"));
    ben.wait_for(Locator::XPath(&format!(
        "{away}/span[@class='visually-hidden' and text()=' (away)']"
    )))
    .await;
    ann.say("/away").await;
    ben.wait_for(Locator::XPath(
        "//ul[@id='member-list']/li[not(contains(@class,'away')) and button='ann']",
    ))
    .await;

    // An invite-only room refuses ben with a clear message; ann's invite
    // has a button that takes him in.
    ann.say("/mode +i").await;
    ben.wait_for_line("ann sets +i (invite-only)").await;
    ann.say("/kick ben enough").await;
    ben.wait_for_line("You are no longer in #den (kicked by ann: enough)")
        .await;
    ben.say("/join den").await;
    ben.wait_for_line("is invite-only").await;
    ann.say("/invite ben").await;
    ann.wait_for_line("ben is invited into #den.").await;
    ben.wait_for_line("ann invites you into #den.").await;
    ben.wait_for(Locator::XPath("//button[text()='Join #den']"))
        .await
        .click()
        .await
        .unwrap();
    ben.wait_for(Locator::XPath(&member("ben", ""))).await;

    ann.close().await;
    ben.close().await;
    let exit = server.stop().await;
    assert_eq!(exit.code, Some(0), "{}", exit.log);
}
