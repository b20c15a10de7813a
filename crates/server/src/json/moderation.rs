//! The `mode` request: a room's modes asked for, its ban and exception
//! lists shown, its modes changed (IRC's mode letters, read by
//! `chatroom_proto::modes` as IRC's `MODE` is).

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{MaskList, Ref, RoomModes, ServerFrame};
use chatroom_proto::modes::{self, ModeError};
use tracing::info;

use super::{JsonSession, errors, replies};
use crate::hub::{Client, HubError};

impl JsonSession {
    /// `mode` without `modes` answers the room's modes; with them, lists
    /// are answered one `mask_list` each, changes are announced to the
    /// room (the sender included) and answered with `done` (also when they
    /// changed nothing); a change that could not be made gets an error of
    /// its own.
    pub(super) fn mode_request(
        &self,
        client: &Client,
        room: &str,
        changes: Option<&str>,
        args: &[String],
        reference: Option<Ref>,
    ) -> Result<(), HubError> {
        let Some(changes) = changes else {
            let modes = self.hub.modes(client, room)?;
            self.send(&ServerFrame::Modes(RoomModes {
                room: modes.room,
                modes: modes.modes,
                args: modes.args,
                created: modes.created,
                reference,
            }));
            return Ok(());
        };
        let (changes, unreadable) = modes::parse(changes, args);
        for error in &unreadable {
            let code = match error {
                ModeError::MissingArgument(_) => ErrorCode::MissingField,
                ModeError::Unknown(_) | ModeError::BadArgument(..) => ErrorCode::InvalidField,
            };
            self.send_error(code, error.to_string(), reference.clone());
        }
        let changing = changes.iter().any(|c| !matches!(c, modes::Change::Show(_)));
        let outcome = self.hub.change_modes(client, room, &changes)?;
        for (list, entries) in outcome.lists {
            self.send(&ServerFrame::MaskList(MaskList {
                room: outcome.room.clone(),
                list: list.letter().to_string(),
                entries: entries.into_iter().map(replies::mask_entry).collect(),
                reference: reference.clone(),
            }));
        }
        for (_, error) in &outcome.refused {
            self.send_error(
                errors::hub_error(error),
                error.to_string(),
                reference.clone(),
            );
        }
        if !outcome.applied.is_empty() {
            let (modes, args) = modes::render(&outcome.applied);
            info!(peer = %self.peer, id = client.id, room = %outcome.room, %modes, ?args, "modes changed");
        }
        // A change request is always answered, even when it changed
        // nothing (a flag already set, a mask not listed).
        if changing {
            self.send(&ServerFrame::Done(chatroom_proto::json::Done {
                request: "mode".to_owned(),
                reference,
            }));
        }
        Ok(())
    }
}
