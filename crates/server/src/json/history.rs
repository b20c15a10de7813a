//! Reading the store: history replays and pages, direct-message history,
//! conversations and search.

use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    ChatMessage, DirectMessage, HistoryEnd, Ref, SearchEnd, SearchHit, ServerFrame,
};
use chatroom_proto::nick::{self};

use super::JsonSession;
use crate::store::{Reader, SearchQuery};

impl JsonSession {
    /// Sends up to `limit` stored messages of a room (ids below `before`),
    /// oldest first and marked as history, then `history_end`.
    pub(super) async fn replay(
        &self,
        key: String,
        name: String,
        before: Option<u64>,
        limit: u32,
        reference: Option<Ref>,
    ) {
        let page = match self.hub.store().history(key, before, limit).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "history read failed");
                return self.send_error(
                    ErrorCode::InternalError,
                    "history is unavailable right now",
                    reference,
                );
            }
        };
        let count = u32::try_from(page.messages.len()).unwrap_or(u32::MAX);
        for m in page.messages {
            self.send(&ServerFrame::Message(ChatMessage {
                msg_id: m.id,
                ts: m.ts,
                room: name.clone(),
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                message: m.text,
                action: m.action,
                history: true,
            }));
        }
        self.send(&ServerFrame::HistoryEnd(HistoryEnd {
            room: name,
            with: None,
            count,
            has_more: page.has_more,
            reference,
        }));
    }

    /// Tells the client a store read failed.
    pub(super) fn store_failed(
        &self,
        what: &str,
        error: &crate::store::StoreError,
        reference: Option<Ref>,
    ) {
        tracing::error!(error = %error, what, "store read failed");
        self.send_error(
            ErrorCode::InternalError,
            format!("{what} is unavailable right now"),
            reference,
        );
    }

    /// Sends up to `limit` stored direct messages between the reader and
    /// `with` (ids below `before`), oldest first and marked as history,
    /// then `history_end` naming `with`.
    pub(super) async fn direct_replay(
        &self,
        reader: Reader,
        with: String,
        before: Option<u64>,
        limit: u32,
        reference: Option<Ref>,
    ) {
        let store = self.hub.store();
        let page = match store
            .direct_history(reader, nick::fold(&with), before, limit)
            .await
        {
            Ok(page) => page,
            Err(e) => return self.store_failed("history", &e, reference),
        };
        let count = u32::try_from(page.messages.len()).unwrap_or(u32::MAX);
        for m in page.messages {
            let (to_id, to_nickname) = m.recipient.unwrap_or_default();
            self.send(&ServerFrame::Direct(DirectMessage {
                msg_id: m.id,
                ts: m.ts,
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                to_id,
                to_nickname,
                message: m.text,
                action: m.action,
                history: true,
            }));
        }
        self.send(&ServerFrame::HistoryEnd(HistoryEnd {
            room: String::new(),
            with: Some(with),
            count,
            has_more: page.has_more,
            reference,
        }));
    }

    /// Runs a search and sends its page: a `search_hit` per result, best
    /// first, then `search_end` (with the cursor of the next page).
    pub(super) async fn search(&self, query: SearchQuery, text: String, reference: Option<Ref>) {
        let offset = query.offset;
        let found = match self.hub.store().search(query).await {
            Ok(found) => found,
            Err(e) => return self.store_failed("search", &e, reference),
        };
        let count = u32::try_from(found.messages.len()).unwrap_or(u32::MAX);
        for m in found.messages {
            self.send(&ServerFrame::SearchHit(SearchHit {
                msg_id: m.id,
                ts: m.ts,
                room: m.room.map(|(_, name)| name),
                sender_id: m.sender_id,
                sender_nickname: m.sender_nick,
                to_nickname: m.recipient.map(|(_, nick)| nick),
                message: m.text,
                action: m.action,
                reference: reference.clone(),
            }));
        }
        self.send(&ServerFrame::SearchEnd(SearchEnd {
            text,
            count,
            next: found
                .has_more
                .then(|| offset.saturating_add(count).to_string()),
            reference,
        }));
    }
}
