//! The JSON protocol's side of the server (docs/protocol.md): how events
//! are written for JSON clients.

pub mod errors;
pub mod events;
pub mod replies;
