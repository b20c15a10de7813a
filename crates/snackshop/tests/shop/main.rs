//! Integration tests for snackshop: real shops on 127.0.0.1:0, real customers over real sockets,
//! and the built binary for restarts, crashes, the client and the report.

mod client;
mod common;
mod crowding;
mod dialogue;
mod encoding;
mod hostile;
mod persistence;
mod race;
mod tutorial;
