//! Sockets as the clients use them: from a chosen loopback address, Nagle
//! off, split into a buffered reader and a writer.

use std::net::{IpAddr, SocketAddr};

use tokio::io::BufReader;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

/// A socket connected to `addr` from `source`, another loopback address
/// such as 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux), so a test
/// can have clients with different IP addresses for per-address limits and
/// IP bans.
pub async fn connect_from(addr: SocketAddr, source: IpAddr) -> TcpStream {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A connected socket with Nagle off, as a buffered reader and a writer.
pub(crate) fn halves(stream: TcpStream) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    stream.set_nodelay(true).unwrap();
    let (r, w) = stream.into_split();
    (BufReader::new(r), w)
}
