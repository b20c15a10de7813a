//! What server operators do, and accounts as they touch who is online: kill,
//! bans, operator rights, registering and forgetting accounts.

use std::net::IpAddr;
use std::sync::Arc;

use chatroom_proto::chat_text;
use chatroom_proto::json::Secret;
use chatroom_proto::nick;

use super::Hub;
use super::publish::Audience;
use super::types::{BanTarget, Client, HubError};
use crate::accounts::{AccountError, Ban, Identity};
use crate::clock::now_ms;
use crate::event::{Event, EventKind};
use crate::outbox::CloseReason;

impl Hub {
    /// Sends `text` from a server operator to everyone listening for
    /// operators' messages (IRC's `WALLOPS` and user mode `w`).
    pub fn wallops(&self, op: &Client, text: &str) -> Result<(), HubError> {
        let state = self.state.lock();
        let from = state.operator(op.id)?.person.clone();
        let event = Event::new(
            EventKind::Wallops {
                from,
                text: chat_text::sanitize(text).as_ref().into(),
            },
            now_ms(),
        );
        state.publish(super::publish::Audience::Everyone, &event);
        Ok(())
    }

    /// Disconnects the user called `target` (operators only).
    pub fn kill(&self, op: &Client, target: &str) -> Result<(), HubError> {
        let state = self.state.lock();
        state.operator(op.id)?;
        state
            .by_nick(target)?
            .client
            .outbox
            .close(CloseReason::Killed);
        Ok(())
    }

    /// Changes the host others see for `target` (operators only; the host
    /// checked by the caller): those sharing a room with them who follow
    /// host changes are told, and so are they.
    pub fn change_host(&self, op: &Client, target: &str, host: &str) -> Result<(), HubError> {
        let mut state = self.state.lock();
        state.operator(op.id)?;
        let id = state.by_nick(target)?.person.id;
        let Some(user) = state.users.get_mut(&id) else {
            return Err(HubError::NoSuchUser(target.to_owned()));
        };
        let host: Arc<str> = host.into();
        let before = user.person.clone();
        user.person.host = host.clone();
        let nick = user.person.nick.clone();
        let event = Event::new(
            EventKind::Host {
                who: before,
                host: host.clone(),
            },
            now_ms(),
        );
        state.tell_sharing(id, &event);
        let own = Event::new(
            EventKind::OwnHost {
                server: self.settings.server_name.clone(),
                nick,
                host,
            },
            now_ms(),
        );
        state.publish(Audience::User(id), &own);
        Ok(())
    }

    /// Bans a nickname (operators only), disconnecting whoever uses it.
    pub fn ban_nick(&self, op: &Client, target: &str, reason: &str) -> Result<(), HubError> {
        let state = self.state.lock();
        let by = state.operator(op.id)?.person.nick.to_string();
        self.accounts.ban_nick(
            target,
            Ban {
                reason: chat_text::sanitize(reason).into_owned(),
                by,
            },
        );
        if let Ok(user) = state.by_nick(target) {
            user.client.outbox.close(CloseReason::Banned);
        }
        Ok(())
    }

    /// Bans an address (operators only), disconnecting everyone from it.
    /// Returns how many were disconnected.
    pub fn ban_ip(&self, op: &Client, ip: IpAddr, reason: &str) -> Result<usize, HubError> {
        let state = self.state.lock();
        let by = state.operator(op.id)?.person.nick.to_string();
        self.accounts.ban_ip(
            ip,
            Ban {
                reason: chat_text::sanitize(reason).into_owned(),
                by,
            },
        );
        let mut count = 0;
        for user in state.users.values().filter(|u| u.client.address.ip() == ip) {
            user.client.outbox.close(CloseReason::Banned);
            count += 1;
        }
        Ok(count)
    }

    /// Lifts a ban (operators only); false if there was none.
    pub fn unban(&self, op: &Client, target: &BanTarget) -> Result<bool, HubError> {
        self.state.lock().operator(op.id)?;
        Ok(match target {
            BanTarget::Nickname(nick) => self.accounts.unban_nick(nick),
            BanTarget::Address(ip) => self.accounts.unban_ip(*ip),
        })
    }

    /// Registers an account: for a logged-in `client`, their own nickname
    /// (which they then own); before login, `nickname`, which nobody else
    /// may be online with.
    pub async fn register(
        &self,
        client: Option<&Client>,
        nickname: &str,
        password: &Secret,
        from: IpAddr,
    ) -> Result<Identity, AccountError> {
        // Someone else online with the name, or with one it looks like, has
        // the better claim to it.
        let someone_else = {
            let state = self.state.lock();
            let me = client.map(|c| c.id);
            let typed = nick::normalize(nickname).map_err(AccountError::InvalidNickname)?;
            let owner = state.nicks.get(&nick::fold(&typed)).copied();
            let own_name = me.is_none_or(|id| owner == Some(id));
            !own_name
                || owner.is_some_and(|id| Some(id) != me)
                || state.lookalike_online(&typed, me)
        };
        if someone_else {
            return Err(AccountError::InUse(nickname.to_owned()));
        }
        let identity = self.accounts.register(nickname, password, from).await?;
        if let Some(client) = client {
            let mut state = self.state.lock();
            if let Some(user) = state.users.get_mut(&client.id) {
                // A server operator (by OPER) stays one.
                let operator = user.identity.operator || identity.operator;
                user.identity = Identity {
                    operator,
                    ..identity.clone()
                };
                user.person.account = identity
                    .account
                    .as_deref()
                    .map(|key| self.accounts.shown_name(key));
                let event = Event::new(
                    EventKind::Account {
                        who: user.person.clone(),
                        account: user.person.account.clone(),
                    },
                    now_ms(),
                );
                state.tell_others(client.id, &event);
            }
        }
        Ok(identity)
    }

    /// Makes the user a server operator (their `OPER` credentials checked).
    pub fn promote(&self, client: &Client) -> Result<(), HubError> {
        let mut state = self.state.lock();
        let user = state.users.get_mut(&client.id).ok_or(HubError::Gone)?;
        user.identity.operator = true;
        Ok(())
    }

    /// The user logged into an account after logging in (IRC's SASL after
    /// registration); an account that is an operator makes them one.
    pub fn log_into(&self, client: &Client, identity: Identity) {
        let mut state = self.state.lock();
        if let Some(user) = state.users.get_mut(&client.id) {
            let operator = user.identity.operator || identity.operator;
            user.identity = Identity {
                operator,
                ..identity
            };
            user.person.account = user
                .identity
                .account
                .as_deref()
                .map(|key| self.accounts.shown_name(key));
            let event = Event::new(
                EventKind::Account {
                    who: user.person.clone(),
                    account: user.person.account.clone(),
                },
                now_ms(),
            );
            state.tell_others(client.id, &event);
        }
    }

    /// Whether the user is an operator.
    pub fn is_operator(&self, client: &Client) -> bool {
        self.state.lock().operator(client.id).is_ok()
    }

    /// The account `key` (a folded nickname) was deleted: whoever is
    /// online logged into it is no longer, and loses the operator powers
    /// the account gave.
    pub fn forget_account(&self, key: &str) {
        let account_operator = self.accounts.is_operator_account(key);
        let mut state = self.state.lock();
        for user in state.users.values_mut() {
            if user.identity.account.as_deref() == Some(key) {
                user.identity.account = None;
                user.person.account = None;
                if account_operator {
                    user.identity.operator = false;
                }
            }
        }
    }
}
