//! Throughput of the JSON codec, in bytes per second (criterion reports
//! MB/s): encoding a chat message frame the way the server fans it out,
//! and decoding a stream of client requests the way a session reads them
//! (`JsonFramer` cutting objects, `parse_request` validating each).
//!
//! `cargo bench -p chatroom-proto --bench json_codec` measures; under
//! `cargo test --all-targets` each benchmark runs once as a smoke test.

use std::hint::black_box;
use std::time::Duration;

use chatroom_proto::json::{
    ChatMessage, JsonFramer, Request, ServerFrame, encode_frame, encode_request, parse_request,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A 64-byte message text, the size the load tests use.
fn text() -> String {
    let mut text = String::from("~k3f~12.3456.7890123~");
    text.extend(std::iter::repeat_n('x', 64 - text.len()));
    text
}

fn encode(c: &mut Criterion) {
    let frame = ServerFrame::Message(ChatMessage {
        msg_id: 1_234_567,
        ts: 1_764_028_800_000,
        room: "lobby".into(),
        sender_id: 42,
        sender_nickname: "bk3f1a".into(),
        message: text(),
        action: false,
        history: false,
    });
    let mut group = c.benchmark_group("json_encode");
    group.throughput(Throughput::Bytes(encode_frame(&frame).len() as u64));
    group.bench_function("message_frame", |b| {
        b.iter(|| encode_frame(black_box(&frame)))
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    // 1,000 broadcasts back to back, as a busy client's stream would hold them.
    let mut stream = Vec::new();
    for i in 0..1_000 {
        let request = Request::Broadcast {
            room: (i % 2 == 0).then(|| "lobby".to_owned()),
            message: text(),
            action: false,
        };
        stream.extend_from_slice(&encode_request(&request, None));
    }
    let mut group = c.benchmark_group("json_decode");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("framer_and_parse_1000_broadcasts", |b| {
        b.iter(|| {
            let mut framer = JsonFramer::new(chatroom_proto::DEFAULT_MAX_FRAME_BYTES);
            let mut parsed = 0usize;
            framer.feed(black_box(&stream), |frame| {
                if let Ok(frame) = frame
                    && parse_request(frame).is_ok()
                {
                    parsed += 1;
                }
            });
            assert_eq!(parsed, 1_000);
            parsed
        })
    });
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
    name = json_codec;
    config = short();
    targets = encode, decode
}
criterion_main!(json_codec);
