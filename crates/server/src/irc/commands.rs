//! The command table: what carries out each command.
//!
//! In the spirit of ergo's `irc/commands.go`: one row per command. The
//! rules about a command (its parameter counts, whether it may come before
//! registration, the reply when parameters are missing) live beside it in
//! `chatroom_proto::irc::Command::spec` and are checked before a handler
//! runs; [`handler`] gives the code that runs. Handlers get the command's
//! parameters, at most as many as it uses.

use std::future::Future;
use std::pin::Pin;

use chatroom_proto::irc::Command;
use chatroom_proto::json::Secret;

use super::IrcSession;
use crate::conn::Flow;
use crate::outbox::CloseReason;

/// A handler's future.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Flow> + Send + 'a>>;

/// What carries out a command.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Done at once.
    Now(fn(&mut IrcSession, &[String]) -> Flow),
    /// Waits (for password hashing, for the store).
    Later(for<'a> fn(&'a mut IrcSession, &'a [String]) -> Pending<'a>),
}

/// The handler of `command`.
pub fn handler(command: Command) -> Handler {
    use Handler::{Later, Now};
    match command {
        Command::Pass => Now(pass),
        Command::Nick => Later(nick),
        Command::User => Later(user),
        Command::Cap => Later(cap),
        Command::Ping => Now(ping),
        Command::Pong => Now(ignore),
        Command::Tagmsg => Now(tagmsg),
        Command::Quit => Now(quit),
        Command::Join => Later(join),
        Command::Part => Now(part),
        Command::Names => Now(names),
        Command::Topic => Now(topic),
        Command::List => Now(list),
        Command::Who => Now(who),
        Command::Whois => Now(whois),
        Command::Privmsg => Now(privmsg),
        Command::Notice => Now(notice),
        Command::Away => Now(away),
        Command::Mode => Now(mode),
        Command::Kick => Now(kick),
        Command::Invite => Now(invite),
        Command::Motd => Now(motd),
        Command::Lusers => Now(lusers),
        Command::Ison => Now(ison),
        Command::Userhost => Now(userhost),
        Command::Version => Now(version),
        Command::Time => Now(time),
        Command::Register => Later(register),
        Command::Kill => Now(kill),
        Command::Oper => Later(oper),
        Command::Authenticate => Later(authenticate),
        Command::Chathistory => Later(chathistory),
        Command::Setname => Now(setname),
        Command::Wallops => Now(wallops),
        Command::Whowas => Now(whowas),
        Command::Info => Now(info),
        Command::Admin => Now(admin),
        Command::Links => Now(links),
        Command::Monitor => Now(monitor),
        Command::Markread => Later(markread),
        Command::Batch => Now(batch),
        Command::Chghost => Now(chghost),
        Command::Cert => Later(cert),
    }
}

/// Parameter `i` ("" when absent).
fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map_or("", String::as_str)
}

/// Parameter `i`, if given.
fn opt(args: &[String], i: usize) -> Option<&str> {
    args.get(i).map(String::as_str)
}

fn pass(s: &mut IrcSession, a: &[String]) -> Flow {
    s.password = Some(Secret::new(arg(a, 0)));
    Flow::Continue
}

fn nick<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        // The very nickname one has (a change of case is a change): nothing
        // to do, and nothing is answered, as IRC servers do.
        if s.client.is_none() || s.nick.as_deref() != Some(arg(a, 0)) {
            s.nick_command(arg(a, 0)).await;
        }
        Flow::Continue
    })
}

fn user<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.user_command(arg(a, 0), arg(a, 3)).await;
        Flow::Continue
    })
}

fn cap<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.cap(a).await;
        Flow::Continue
    })
}

fn ping(s: &mut IrcSession, a: &[String]) -> Flow {
    s.ping_command(arg(a, 0));
    Flow::Continue
}

fn ignore(_: &mut IrcSession, _: &[String]) -> Flow {
    Flow::Continue
}

fn quit(s: &mut IrcSession, a: &[String]) -> Flow {
    s.quit_message = opt(a, 0).filter(|m| !m.is_empty()).map(str::to_owned);
    Flow::Close(CloseReason::Logout)
}

fn join<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.join(arg(a, 0), opt(a, 1)).await;
        Flow::Continue
    })
}

fn part(s: &mut IrcSession, a: &[String]) -> Flow {
    s.part(arg(a, 0), opt(a, 1));
    Flow::Continue
}

fn names(s: &mut IrcSession, a: &[String]) -> Flow {
    s.names(arg(a, 0));
    Flow::Continue
}

fn topic(s: &mut IrcSession, a: &[String]) -> Flow {
    s.topic(arg(a, 0), opt(a, 1));
    Flow::Continue
}

fn list(s: &mut IrcSession, a: &[String]) -> Flow {
    s.list(arg(a, 0));
    Flow::Continue
}

fn who(s: &mut IrcSession, a: &[String]) -> Flow {
    s.who(arg(a, 0), arg(a, 1));
    Flow::Continue
}

fn whois(s: &mut IrcSession, a: &[String]) -> Flow {
    // `WHOIS [server] nicks`: the nicknames come last.
    s.whois(a.last().map_or("", String::as_str));
    Flow::Continue
}

fn privmsg(s: &mut IrcSession, a: &[String]) -> Flow {
    s.privmsg(arg(a, 0), arg(a, 1), false);
    Flow::Continue
}

fn tagmsg(s: &mut IrcSession, a: &[String]) -> Flow {
    s.tagmsg(arg(a, 0));
    Flow::Continue
}

fn notice(s: &mut IrcSession, a: &[String]) -> Flow {
    s.privmsg(arg(a, 0), arg(a, 1), true);
    Flow::Continue
}

fn away(s: &mut IrcSession, a: &[String]) -> Flow {
    s.away(opt(a, 0));
    Flow::Continue
}

fn mode(s: &mut IrcSession, a: &[String]) -> Flow {
    let target = arg(a, 0);
    if chatroom_proto::irc::channel::is_channel(target) {
        s.channel_mode(target, a.get(1..).unwrap_or_default());
    } else {
        s.mode(target, opt(a, 1));
    }
    Flow::Continue
}

fn invite(s: &mut IrcSession, a: &[String]) -> Flow {
    s.invite(arg(a, 0), arg(a, 1));
    Flow::Continue
}

fn kick(s: &mut IrcSession, a: &[String]) -> Flow {
    s.kick(arg(a, 0), arg(a, 1), opt(a, 2));
    Flow::Continue
}

fn motd(s: &mut IrcSession, _: &[String]) -> Flow {
    s.send_all(&s.motd_lines(&s.addressee()));
    Flow::Continue
}

fn lusers(s: &mut IrcSession, _: &[String]) -> Flow {
    s.send_all(&s.lusers_lines(&s.addressee(), s.hub.census()));
    Flow::Continue
}

fn ison(s: &mut IrcSession, a: &[String]) -> Flow {
    s.ison(a);
    Flow::Continue
}

fn userhost(s: &mut IrcSession, a: &[String]) -> Flow {
    s.userhost(a);
    Flow::Continue
}

fn version(s: &mut IrcSession, _: &[String]) -> Flow {
    s.version();
    Flow::Continue
}

fn time(s: &mut IrcSession, _: &[String]) -> Flow {
    s.time();
    Flow::Continue
}

fn register<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.register(arg(a, 0), arg(a, 2)).await;
        Flow::Continue
    })
}

fn kill(s: &mut IrcSession, a: &[String]) -> Flow {
    s.kill(arg(a, 0));
    Flow::Continue
}

fn oper<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.oper(arg(a, 0), arg(a, 1)).await;
        Flow::Continue
    })
}

fn authenticate<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.authenticate(arg(a, 0)).await;
        Flow::Continue
    })
}

fn chathistory<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.chathistory(a).await;
        Flow::Continue
    })
}

fn markread<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.markread(a).await;
        Flow::Continue
    })
}

fn cert<'a>(s: &'a mut IrcSession, a: &'a [String]) -> Pending<'a> {
    Box::pin(async move {
        s.cert(arg(a, 0), opt(a, 1)).await;
        Flow::Continue
    })
}

fn setname(s: &mut IrcSession, a: &[String]) -> Flow {
    s.setname(arg(a, 0));
    Flow::Continue
}

fn whowas(s: &mut IrcSession, a: &[String]) -> Flow {
    s.whowas(arg(a, 0), arg(a, 1));
    Flow::Continue
}

fn info(s: &mut IrcSession, _: &[String]) -> Flow {
    s.info();
    Flow::Continue
}

fn wallops(s: &mut IrcSession, a: &[String]) -> Flow {
    s.wallops_command(arg(a, 0));
    Flow::Continue
}

fn admin(s: &mut IrcSession, _: &[String]) -> Flow {
    s.admin();
    Flow::Continue
}

fn links(s: &mut IrcSession, _: &[String]) -> Flow {
    s.links();
    Flow::Continue
}

fn monitor(s: &mut IrcSession, a: &[String]) -> Flow {
    s.monitor(arg(a, 0), arg(a, 1));
    Flow::Continue
}

fn batch(s: &mut IrcSession, a: &[String]) -> Flow {
    s.batch(a);
    Flow::Continue
}

fn chghost(s: &mut IrcSession, a: &[String]) -> Flow {
    s.chghost(arg(a, 0), arg(a, 1));
    Flow::Continue
}
