//! IRCv3 `labeled-response`: a request tagged `@label=...` gets its
//! answers tagged with the same label: one line labeled, a single batch
//! (a `chathistory` batch, say) by labeling its start, several lines in a
//! `labeled-response` batch (a batch among them nested in it: only its
//! start and end join the outer batch), none as a labeled `ACK`. The hub
//! and the session gather the answers while the request is handled
//! (`Client::gather`); this module labels them.

use bytes::Bytes;
use chatroom_proto::irc::{Message, Source, escape_tag_value, parse};

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
        lines if is_one_batch(lines) => {
            with_tag(lines[0], &label_tag, &mut out);
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
                // A line of a nested batch stays in it.
                if read(line).is_some_and(|m| m.tag("batch").is_some()) {
                    out.extend_from_slice(line);
                } else {
                    with_tag(line, &batch_tag, &mut out);
                }
            }
            Message::new("BATCH")
                .with_source(Source::server(server))
                .param(format!("-{batch}"))
                .encode_into(&mut out);
        }
    }
    Bytes::from(out)
}

/// An encoded line (with its line end) read back.
fn read(line: &[u8]) -> Option<Message> {
    parse(line.trim_ascii_end()).ok()
}

/// Whether `lines` are one batch: its start, lines in it, its end.
fn is_one_batch(lines: &[&[u8]]) -> bool {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return false;
    };
    let Some(start) = read(first) else {
        return false;
    };
    let Some(id) = start
        .arg(0)
        .filter(|_| start.command == "BATCH" && start.tag("batch").is_none())
        .and_then(|arg| arg.strip_prefix('+'))
    else {
        return false;
    };
    let ends = read(last).is_some_and(|end| {
        end.command == "BATCH"
            && end.arg(0).and_then(|arg| arg.strip_prefix('-')) == Some(id)
            && end.tag("batch").is_none()
    });
    ends && lines[1..lines.len() - 1]
        .iter()
        .all(|line| read(line).is_some_and(|m| m.tag("batch") == Some(Some(id))))
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

    #[test]
    fn a_single_batch_is_labeled_at_its_start() {
        let history = Bytes::from_static(
            b":srv BATCH +h1 chathistory #a\r\n\
              @batch=h1;time=t :ann!ann@h PRIVMSG #a :hi\r\n\
              :srv BATCH -h1\r\n",
        );
        let labeled_history = labeled("x", "srv", std::slice::from_ref(&history), "l3");
        assert_eq!(
            &labeled_history[..],
            &b"@label=x :srv BATCH +h1 chathistory #a\r\n\
               @batch=h1;time=t :ann!ann@h PRIVMSG #a :hi\r\n\
               :srv BATCH -h1\r\n"[..]
        );
        // With another line, it is nested in a labeled-response batch.
        let nested = labeled(
            "x",
            "srv",
            &[history, Bytes::from_static(b":srv NOTICE me :and\r\n")],
            "l4",
        );
        assert_eq!(
            &nested[..],
            &b"@label=x :srv BATCH +l4 labeled-response\r\n\
               @batch=l4 :srv BATCH +h1 chathistory #a\r\n\
               @batch=h1;time=t :ann!ann@h PRIVMSG #a :hi\r\n\
               @batch=l4 :srv BATCH -h1\r\n\
               @batch=l4 :srv NOTICE me :and\r\n\
               :srv BATCH -l4\r\n"[..]
        );
    }
}
