//! Read markers in the hub: which account a session is logged into (whose
//! markers it reads and moves), and telling the account's other sessions
//! when one of them moves a marker. The markers themselves live in the
//! store (`store::markers`), or for a session without an account in the
//! session (`crate::read_markers`).

use super::Hub;
use super::publish::Audience;
use super::types::Client;
use crate::clock::now_ms;
use crate::event::{Event, EventKind, MarkerTarget};

impl Hub {
    /// The account (folded nickname) the user is logged into, if any.
    pub fn account_of(&self, client: &Client) -> Option<String> {
        let state = self.state.lock();
        state.user(client.id).ok()?.identity.account.clone()
    }

    /// Tells the other sessions logged into `account` that its marker for
    /// `target` now stands at `ts` (IRC clients that took
    /// `draft/read-marker`, and JSON clients).
    pub fn read_marker_moved(&self, client: &Client, account: &str, target: MarkerTarget, ts: i64) {
        let event = Event::new(
            EventKind::ReadMarker {
                server: self.settings.server_name.clone(),
                target,
                ts,
            },
            now_ms(),
        );
        let state = self.state.lock();
        state.publish(
            Audience::Account {
                account,
                except: client.id,
            },
            &event,
        );
    }
}
