//! The IRC side of the server (docs/irc.md): how events are written for
//! IRC clients.

pub mod events;
