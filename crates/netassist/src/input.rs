//! Where input comes from: a line-editing prompt when stdin is a terminal,
//! plain lines when it is piped, or raw chunks of bytes with `--raw`.
//!
//! Both read on a dedicated thread (blocking reads must not sit on the async
//! runtime, and a thread blocked in `read` does not keep the process alive)
//! and hand lines to the session over a channel; the channel closing means
//! input ended.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use parking_lot::Mutex;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use tokio::sync::mpsc;

use crate::session::{Input, Session};

/// Lines buffered between the reading thread and the session.
const LINE_QUEUE: usize = 64;
/// Raw chunks buffered between the reading thread and the session.
const CHUNK_QUEUE: usize = 16;

/// Reads stdin as raw bytes (`--raw`), in chunks of at most `max_chunk`
/// bytes (for UDP: what one datagram can carry), passing them on exactly.
pub fn raw_stdin(session: Arc<Session>, max_chunk: usize) -> Input {
    let (tx, rx) = mpsc::channel(CHUNK_QUEUE);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; max_chunk.max(1)];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if tx.blocking_send(chunk).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    session.console.warn(&format!("reading stdin failed: {e}"));
                    break;
                }
            }
        }
    });
    Input::raw(rx)
}

/// Reads lines from piped stdin. Each line loses its `\n` (and a `\r` before
/// it); a line that is not UTF-8 is reported and skipped.
pub fn piped_stdin(session: Arc<Session>) -> Input {
    let (tx, rx) = mpsc::channel(LINE_QUEUE);
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut reader = stdin.lock();
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    session.console.warn(&format!("reading stdin failed: {e}"));
                    break;
                }
            }
            number += 1;
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            match String::from_utf8(std::mem::take(&mut line)) {
                Ok(text) => {
                    if tx.blocking_send(text).is_err() {
                        break;
                    }
                }
                Err(_) => session.console.warn(&format!(
                    "stdin line {number} is not UTF-8 and was skipped (use --input hex or --file for bytes)"
                )),
            }
        }
    });
    Input::channel(rx)
}

/// A line editor for a terminal, plus a writer that prints above its prompt.
pub struct Prompt {
    editor: DefaultEditor,
    printer: Option<SharedPrinter>,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompt").finish_non_exhaustive()
    }
}

type SharedPrinter = Arc<Mutex<Box<dyn ExternalPrinter + Send>>>;

impl Prompt {
    /// Sets up line editing on the terminal.
    pub fn new() -> Result<Self, ReadlineError> {
        let mut editor = DefaultEditor::new()?;
        // Without an external printer (e.g. stdout is not a terminal) output
        // goes to stdout/stderr directly; nothing is lost.
        let printer = editor
            .create_external_printer()
            .ok()
            .map(|p| Arc::new(Mutex::new(Box::new(p) as Box<dyn ExternalPrinter + Send>)));
        Ok(Prompt { editor, printer })
    }

    /// A sink that prints above the prompt, if the terminal supports it.
    pub fn sink(&self) -> Option<Box<dyn Write + Send>> {
        self.printer.as_ref().map(|p| {
            Box::new(PrinterSink {
                printer: p.clone(),
                buffer: Vec::new(),
            }) as Box<dyn Write + Send>
        })
    }

    /// Starts reading lines with `prompt`; Ctrl-D or Ctrl-C ends input.
    pub fn start(self, prompt: &'static str, session: Arc<Session>) -> Input {
        let (tx, rx) = mpsc::channel(LINE_QUEUE);
        let mut editor = self.editor;
        std::thread::spawn(move || {
            loop {
                match editor.readline(prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                    Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
                    Err(e) => {
                        session
                            .console
                            .warn(&format!("reading the terminal failed: {e}"));
                        break;
                    }
                }
            }
        });
        Input::typed(rx)
    }
}

/// Buffers one console event and hands it to the external printer on flush.
struct PrinterSink {
    printer: SharedPrinter,
    buffer: Vec<u8>,
}

impl Write for PrinterSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer).into_owned();
        self.buffer.clear();
        self.printer.lock().print(text).map_err(io::Error::other)
    }
}
