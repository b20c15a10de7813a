//! Read markers in JSON (docs/protocol.md, "Read markers"): `mark_read`
//! moves one forward, `read_markers` lists them, and a room's marker
//! follows `joined` when it has one. Where markers live is
//! `crate::read_markers`'s business.

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{ReadMarkerList, ReadTarget, Ref, ServerFrame};
use tracing::warn;

use super::JsonSession;
use super::events::read_marker;
use crate::hub::Client;
use crate::read_markers::{self, MarkError};

impl JsonSession {
    /// `mark_read`: moves the marker (never back) and answers where it
    /// stands with a `read_marker`; the account's other sessions get one
    /// too.
    pub(super) async fn mark_read(
        &mut self,
        client: &Client,
        target: ReadTarget,
        ts: i64,
        reference: Option<Ref>,
    ) {
        let target = match &target {
            ReadTarget::Room(room) => read_markers::room_target(room),
            ReadTarget::With(nick) => read_markers::nick_target(nick),
        };
        let answer = match target {
            Ok(target) => self
                .markers
                .set(&self.hub, client, target.clone(), ts)
                .await
                .map(|stands| (target, stands)),
            Err(e) => Err(e),
        };
        match answer {
            Ok((target, stands)) => {
                let mut frame = read_marker(&target, stands);
                frame.reference = reference;
                self.send(&ServerFrame::ReadMarker(frame));
            }
            Err(e) => self.mark_error(&e, reference),
        }
    }

    /// `read_markers`: every marker the user has, in one frame.
    pub(super) async fn read_markers(&self, client: &Client, reference: Option<Ref>) {
        match self.markers.all(&self.hub, client).await {
            Ok(all) => self.send(&ServerFrame::ReadMarkers(ReadMarkerList {
                markers: all
                    .iter()
                    .map(|(target, ts)| read_marker(target, *ts))
                    .collect(),
                reference,
            })),
            Err(e) => self.mark_error(&e, reference),
        }
    }

    /// After `joined`: the room's `read_marker`, if the user has one.
    pub(super) async fn join_marker(&self, client: &Client, room: &str, reference: Option<Ref>) {
        let Ok(target) = read_markers::room_target(room) else {
            return;
        };
        match self.markers.get(&self.hub, client, &target).await {
            Ok(Some(ts)) => {
                let mut frame = read_marker(&target, ts);
                frame.reference = reference;
                self.send(&ServerFrame::ReadMarker(frame));
            }
            Ok(None) => {}
            Err(e) => warn!(peer = %self.peer, error = %e, "read marker unavailable on join"),
        }
    }

    /// The error frame for a marker that could not be read or moved.
    fn mark_error(&self, error: &MarkError, reference: Option<Ref>) {
        match error {
            MarkError::BadTarget => self.send_error(
                ErrorCode::InvalidField,
                "`room` must be a room name, `with` a nickname",
                reference,
            ),
            MarkError::TooMany => {
                self.send_error(ErrorCode::QuotaExceeded, error.to_string(), reference);
            }
            MarkError::Store(e) => self.store_failed("read markers", e, reference),
        }
    }
}
