//! IRCv3 `labeled-response`: a request tagged `@label=...` gets its
//! answers tagged with the same label: one line labeled, several in a
//! `labeled-response` batch, none as a labeled `ACK`. The hub and the
//! session gather the answers while the request is handled
//! (`Client::gather`); this module labels them.

use bytes::Bytes;
use chatroom_proto::irc::{Message, Source, escape_tag_value};

/// The longest label taken (longer ones are not answered with labels).
pub const MAX_LABEL_BYTES: usize = 64;

/// The answers to a request labeled `label`, labeled; `batch` names the
/// batch if one is needed.
pub fn labeled(label: &str, server: &str, answers: &[Bytes], batch: &str) -> Bytes {
    let lines: Vec<&[u8]> = answers
        .iter()
        .flat_map(|chunk| chunk.split_inclusive(|b| *b == b'\n'))
        .filter(|line| !line.trim_ascii().is_empty())
        .collect();
    let label_tag = format!("label={}", escape_tag_value(label));
    let mut out = Vec::new();
    match lines.as_slice() {
        [] => {
            Message::new("ACK")
                .with_source(Source::server(server))
                .with_tag("label", Some(label))
                .encode_into(&mut out);
        }
        [line] => with_tag(line, &label_tag, &mut out),
        // One batch of its own (a multiline message's echo): the label
        // goes on its opening line.
        [first, .., last] if one_batch(first, last) => {
            with_tag(first, &label_tag, &mut out);
            for line in &lines[1..] {
                out.extend_from_slice(line);
            }
        }
        lines => {
            Message::new("BATCH")
                .with_source(Source::server(server))
                .with_tag("label", Some(label))
                .param(format!("+{batch}"))
                .param("labeled-response")
                .encode_into(&mut out);
            let batch_tag = format!("batch={batch}");
            for line in lines {
                with_tag(line, &batch_tag, &mut out);
            }
            Message::new("BATCH")
                .with_source(Source::server(server))
                .param(format!("-{batch}"))
                .encode_into(&mut out);
        }
    }
    Bytes::from(out)
}

/// Whether `first` opens a batch that `last` closes.
fn one_batch(first: &[u8], last: &[u8]) -> bool {
    let reference = |line: &[u8], sign: char| -> Option<String> {
        let message = chatroom_proto::irc::parse(line.trim_ascii_end()).ok()?;
        let reference = message.params.first()?.strip_prefix(sign)?.to_owned();
        message
            .command
            .eq_ignore_ascii_case("BATCH")
            .then_some(reference)
    };
    reference(first, '+').is_some_and(|r| reference(last, '-') == Some(r))
}

/// Writes an encoded `line` with `tag` (`key=value`) added first.
fn with_tag(line: &[u8], tag: &str, out: &mut Vec<u8>) {
    out.push(b'@');
    out.extend_from_slice(tag.as_bytes());
    match line.strip_prefix(b"@") {
        Some(rest) => {
            out.push(b';');
            out.extend_from_slice(rest);
        }
        None => {
            out.push(b' ');
            out.extend_from_slice(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_one_or_many_answers() {
        let ack = labeled("a b", "srv", &[], "l1");
        assert_eq!(&ack[..], b"@label=a\\sb :srv ACK\r\n");
        let one = labeled(
            "x",
            "srv",
            &[Bytes::from_static(b":srv 381 me :hi\r\n")],
            "l1",
        );
        assert_eq!(&one[..], b"@label=x :srv 381 me :hi\r\n");
        let tagged = labeled(
            "x",
            "srv",
            &[Bytes::from_static(
                b"@time=t :me!u@h JOIN #a\r\n:srv 366 me #a :End\r\n",
            )],
            "l2",
        );
        assert_eq!(
            &tagged[..],
            &b"@label=x :srv BATCH +l2 labeled-response\r\n\
               @batch=l2;time=t :me!u@h JOIN #a\r\n\
               @batch=l2 :srv 366 me #a :End\r\n\
               :srv BATCH -l2\r\n"[..]
        );
        let multiline = labeled(
            "x",
            "srv",
            &[Bytes::from_static(
                b"@msgid=1 :me!u@h BATCH +ml1 draft/multiline #a\r\n\
                  @batch=ml1 :me!u@h PRIVMSG #a :one\r\n\
                  :me!u@h BATCH -ml1\r\n",
            )],
            "l3",
        );
        assert_eq!(
            &multiline[..],
            &b"@label=x;msgid=1 :me!u@h BATCH +ml1 draft/multiline #a\r\n\
               @batch=ml1 :me!u@h PRIVMSG #a :one\r\n\
               :me!u@h BATCH -ml1\r\n"[..],
            "one batch: labeled on its opening line"
        );
    }
}
