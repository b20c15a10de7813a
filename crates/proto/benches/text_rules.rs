//! What the text rules cost where the server runs them: `chat_text::sanitize`
//! on every message (clean text, the usual case, must stay cheap: no
//! allocation), `nick::fold` on every lookup of a user by name, and
//! `nick::normalize` and `nick::skeleton` on every login and rename.
//!
//! `cargo bench -p chatroom-proto --bench text_rules` measures; under
//! `cargo test --all-targets` each benchmark runs once as a smoke test.

use std::hint::black_box;
use std::time::Duration;

use chatroom_proto::{chat_text, nick};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A 64-byte message text, the size the load tests use.
const ASCII: &str = "~k3f~12.3456.7890123~ the quick brown fox jumps over the lazy!";

fn sanitize(c: &mut Criterion) {
    let texts = [
        ("clean_ascii_64", ASCII.to_owned()),
        (
            "clean_chinese",
            "这是一个很长的消息，里面只有中文和标点。".repeat(2),
        ),
        // Smart quotes and dashes start with the lead byte of the bidi
        // controls: the careful path, still without allocating.
        (
            "clean_quotes",
            "“Don’t” – she said… “it’s fine”. ".repeat(2),
        ),
        (
            "clean_irc_colours",
            "\x02bold\x02 \x0304,07red on orange\x03 \x1Ditalic\x1D and more text".to_owned(),
        ),
        (
            "escapes",
            "\x1b[31mred\x1b[0m \x1b]52;c;cm0gLXJmIH4=\x07 and \x1b[2J".to_owned(),
        ),
        (
            "trojan_source",
            "\u{202E}gnp.exe \u{2067}unclosed isolate".to_owned(),
        ),
    ];
    let mut group = c.benchmark_group("sanitize");
    for (name, text) in &texts {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(*name, |b| b.iter(|| chat_text::sanitize(black_box(text))));
    }
    group.finish();
}

fn nicknames(c: &mut Criterion) {
    let mut group = c.benchmark_group("nick");
    for (name, typed) in [
        ("ascii", "bk3f1a"),
        ("chinese", "张三丰"),
        ("greek", "Δημήτρης"),
    ] {
        group.bench_function(format!("fold_{name}"), |b| {
            b.iter(|| nick::fold(black_box(typed)))
        });
        // What folding cost before: lowercase only.
        group.bench_function(format!("to_lowercase_{name}"), |b| {
            b.iter(|| black_box(typed).to_lowercase())
        });
        group.bench_function(format!("normalize_{name}"), |b| {
            b.iter(|| nick::normalize(black_box(typed)))
        });
        group.bench_function(format!("skeleton_{name}"), |b| {
            b.iter(|| nick::skeleton(black_box(typed)))
        });
    }
    group.finish();
}

/// Short by default: one second of warm-up and two of measurement per benchmark.
fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = text_rules;
    config = short();
    targets = sanitize, nicknames
}
criterion_main!(text_rules);
