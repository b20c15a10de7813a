//! `snackshop buy`: the customer's side. Prints every line the shop says and sends every line
//! the customer types.
//!
//! It works the same typed or scripted: `printf '西瓜\n拜拜\n' | snackshop buy` sends both
//! lines, prints the answers and exits once the shop has said goodbye and closed. If the input
//! ends without a goodbye, the client closes its sending side and still prints everything the
//! shop answers before it closes too.

use std::io;

use thiserror::Error;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::line::{Frame, LineReader};

/// Lines from the shop longer than this are not printed (the shop never sends such lines).
const MAX_SERVER_LINE: usize = 64 * 1024;

/// Why shopping failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The shop could not be reached.
    #[error("cannot connect to {server} (is `snackshop serve` running there?)")]
    Connect {
        /// The address tried.
        server: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The connection or the output failed midway.
    #[error("connection to the shop failed")]
    Io(#[from] io::Error),
}

/// Connects to `server` (`HOST:PORT`), sends each item of `input` as a line and writes each line
/// from the shop to `output`, until the shop closes the connection.
///
/// `input` carries raw lines without their newline; when it closes, the client stops sending and
/// waits for the shop to finish.
pub async fn shop(
    server: &str,
    mut input: mpsc::Receiver<Vec<u8>>,
    mut output: impl AsyncWrite + Unpin,
) -> Result<(), ClientError> {
    let stream = TcpStream::connect(server)
        .await
        .map_err(|source| ClientError::Connect {
            server: server.to_string(),
            source,
        })?;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut reader = LineReader::new(rd, MAX_SERVER_LINE);
    let mut sending = true;
    loop {
        tokio::select! {
            frame = reader.next_frame() => match frame? {
                Some(frame) => {
                    let text = match frame {
                        Frame::Line(bytes) => decode(&bytes),
                        Frame::TooLong => "[the shop sent an overlong line]".to_string(),
                    };
                    output.write_all(text.as_bytes()).await?;
                    output.write_all(b"\n").await?;
                    output.flush().await?;
                }
                None => break,
            },
            line = input.recv(), if sending => match line {
                Some(mut line) => {
                    line.push(b'\n');
                    if wr.write_all(&line).await.is_err() {
                        // The shop closed on us; whatever it said is still to be read.
                        sending = false;
                    }
                }
                None => {
                    sending = false;
                    // Closing only our sending side tells the shop we are done; its answers
                    // keep coming until it closes.
                    let _ = wr.shutdown().await;
                }
            },
        }
    }
    Ok(())
}

/// A line from the shop: UTF-8, or else GBK (a shop run with `--encoding gbk`).
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => match encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes)
        {
            Some(text) => text.into_owned(),
            None => "[the shop sent something that is not text]".to_string(),
        },
    }
}

/// Reads standard input line by line on a plain thread (so a pending read never holds up the
/// program's exit) and hands each line, without its newline, to the returned channel.
pub fn stdin_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            use std::io::BufRead;
            let mut stdin = io::stdin().lock();
            loop {
                let mut line = Vec::new();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot read standard input");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_a_utf8_or_gbk_shop_are_printed_as_text() {
        assert_eq!(decode("西瓜".as_bytes()), "西瓜");
        assert_eq!(
            decode(&[0xce, 0xf7, 0xb9, 0xcf]),
            "西瓜",
            "a --encoding gbk shop"
        );
        assert_eq!(
            decode(b"\xff\xff"),
            "[the shop sent something that is not text]"
        );
    }
}
