//! The source tutorial's own Python client, unmodified, against our server.
//!
//! It sends JSON objects with no delimiter, reads each reply with one
//! `recv(1024)` + `json.loads`, checks `obj["id"]` after login and prints
//! `[nick(id)] message` for everything it receives. Any frame it cannot
//! parse makes it print "[Client] 无法从服务器获取数据", which fails the test.

use std::path::Path;
use std::process::Stdio;

use chatroom_testkit::{Raw, TestServer, WAIT};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct Tutorial {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Tutorial {
    fn start(addr: std::net::SocketAddr) -> Tutorial {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut child = Command::new("python3")
            .arg("-u")
            .arg("run_tutorial_client.py")
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .current_dir(fixtures)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 is needed for the tutorial-client test (apt-get install python3)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Tutorial {
            child,
            stdin,
            stdout,
        }
    }

    async fn type_line(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for a printed line containing `needle`; fails on the client's
    /// "could not get data from the server" complaint.
    async fn expect_line(&mut self, needle: &str) -> String {
        loop {
            let line = tokio::time::timeout(WAIT, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("tutorial client never printed {needle:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("tutorial client exited before printing {needle:?}"));
            assert!(
                !line.contains("无法从服务器获取数据"),
                "the tutorial client could not parse a frame: {line}"
            );
            if line.contains(needle) {
                return line;
            }
        }
    }
}

#[tokio::test]
async fn the_tutorial_python_client_chats_with_our_clients() {
    let server = TestServer::start().await;
    let mut py = Tutorial::start(server.addr);
    py.expect_line("[Help] send message").await;

    py.type_line("login zhangsan").await;
    py.expect_line("[Client] 成功登录到聊天室").await;

    let mut bob = Raw::login(server.addr, "bob").await;
    py.expect_line(&format!("[System(0)] bob({}) joined", bob.id))
        .await;

    bob.say("你好,张三").await;
    py.expect_line(&format!("[bob({})] 你好,张三", bob.id))
        .await;

    py.type_line("send 你好 bob, from Python").await;
    let m = bob.recv().await;
    assert_eq!(m["type"], "message");
    assert_eq!(m["sender_nickname"], "zhangsan");
    assert_eq!(m["message"], "你好 bob, from Python");
    let python_id = m["sender_id"].as_u64().unwrap();
    assert!(python_id > 0 && python_id != bob.id);

    bob.say("second message").await;
    py.expect_line(&format!("[bob({})] second message", bob.id))
        .await;

    // End of input ends the tutorial client; bob is told it left.
    drop(py.stdin);
    tokio::time::timeout(WAIT, py.child.wait())
        .await
        .unwrap()
        .unwrap();
    let left = bob.recv().await;
    assert_eq!(left["type"], "presence");
    assert_eq!(left["event"], "leave");
    assert_eq!(left["user_id"], python_id);
    server.stop().await;
}
