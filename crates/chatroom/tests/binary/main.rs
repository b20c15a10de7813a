//! Tests through the real `chatroom` binary, the way people run it: `serve`
//! as a child process ([`chatroom_testkit::ServerProcess`]), `join` scripted
//! or in tmux, `cert`, `passwd` and `bench plot`. One module per subject:
//!
//! - `cli`: scripted joins, exit codes, output, shutdown on SIGTERM.
//! - `cluster`: nodes as processes, one killed with `kill -9`.
//! - `config`: `--print-config`, configuration files and their mistakes.
//! - `hardening`: the server's log, accounts across restarts, terminal
//!   escapes, `passwd`.
//! - `tls`, `tls_join`: `cert`, and JSON and IRC over TLS.
//! - `irc_client`: weechat against the server.
//! - `tui_tmux`: the full-screen client in tmux.
//! - `slow_consumer`: a client that stops reading, against 50 who chat.
//! - `bench_plot`: the charts `bench` draws.
//! - `bench_ws`: `bench --proto ws` and `irc-ws` against `serve --http-listen`.
//! - `reliability`: crashes, restarts and attackers.
//! - `web_browser`: the web client in headless chromium over WebDriver.
//! - `web_browser_moderation`: room operators in the browser, live.
//! - `web_browser_read_markers`: read markers shared with the account's
//!   other sessions, in the browser.
#![allow(clippy::unwrap_used)]

mod bench_plot;
mod bench_ws;
mod cli;
mod cluster;
mod config;
mod hardening;
mod irc_client;
mod reliability;
mod slow_consumer;
mod support;
mod tls;
mod tls_join;
mod tui_tmux;
mod web_browser;
mod web_browser_moderation;
mod web_browser_read_markers;
