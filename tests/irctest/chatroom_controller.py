"""irctest controller for the chatroom server (our own code).

irctest (github progval/irctest) loads a controller module by name with
``pytest --controller MODULE``; the module must expose
``get_irctest_controller_class()``.  Put this directory on PYTHONPATH and run
pytest from the irctest checkout (see README.md beside this file)::

    PYTHONPATH=/path/to/repo/tests/irctest pytest --controller chatroom_controller ...

The server binary is ``$CHATROOM_BIN`` (default: ``chatroom`` on PATH).  Each
test case gets a fresh server on a loopback port with a fresh temporary data
directory, the JSON listener off, and the HTTP listener off unless the test
asks for WebSocket.  Flags the binary does not have yet are detected from
``serve --help``; what the server cannot do is reported to irctest as
"not implemented by controller" (the test is skipped, not failed).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import subprocess
from typing import FrozenSet, List, Optional, Set, Tuple, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

# irctest's tests use these credentials for OPER (oper.py, kill.py, wallops.py,
# who.py, whois.py) and this server name in expected replies (time.py, who.py,
# connection_registration.py).
OPER_NAME = "operuser"
OPER_PASSWORD = "operpassword"
SERVER_NAME = "My.Little.Server"


def chatroom_bin() -> str:
    return os.environ.get("CHATROOM_BIN") or "chatroom"


@functools.lru_cache()
def serve_flags() -> FrozenSet[str]:
    """The long options `chatroom serve` accepts, read from its --help."""
    out = subprocess.run(
        [chatroom_bin(), "serve", "--help"],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    ).stdout
    flags = set()
    for word in out.replace(",", " ").split():
        if word.startswith("--"):
            flags.add(word.split("=", 1)[0].split("[", 1)[0])
    return frozenset(flags)


def has_flag(flag: str) -> bool:
    return flag in serve_flags()


# Controllers whose server may still run.  irctest calls kill() from
# tearDown, but unittest skips tearDown when setUp raises, and some test
# classes raise a skip in setUp after the server started (bot_mode.py: no BOT
# token).  So each new server first stops the ones left over (tests run one at
# a time in a process), and whatever is left is stopped at exit.
_live: List["ChatroomController"] = []


def _stop(controller: "ChatroomController") -> None:
    try:
        controller.kill()
    except Exception:
        pass
    if controller in _live:
        _live.remove(controller)


@atexit.register
def _stop_all() -> None:
    for controller in list(_live):
        _stop(controller)


class ChatroomController(BaseServerController, DirectoryBasedController):
    software_name = "chatroom"

    # SASL PLAIN against the built-in accounts (`registerUser` below);
    # EXTERNAL needs TLS client certificates, which irctest's cases do not
    # use.
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False

    # `capabilities` is what we *claim*: when a test requests a capability the
    # server NAKs, irctest skips the test only if the capability is not
    # claimed here.  Claim nothing, so a missing capability shows up as a skip
    # ("Unsupported capability") and a capability the server ACKs is tested
    # for real.  Likewise `optional_behaviors` turns an optional-behaviour skip
    # into a failure, so it stays empty.
    capabilities: FrozenSet[Capabilities] = frozenset()
    optional_behaviors: FrozenSet[OptionalBehaviors] = frozenset()

    # The server answers a client's commands in order, and deliveries to
    # *other* clients go through the hub without waiting (--write-linger 0
    # below).  But each connection is its own task: when client 1 sends a
    # PRIVMSG and client 2 a PING a fraction of a millisecond later, client
    # 2's PONG can come first if client 1's task waits for a core (two
    # cores, shared with the store's writer thread).  irctest's answer to
    # that is this pause before reading (other controllers: 0.1 s, 1 s);
    # 10 ms is enough here (irctest's WebSocket subprotocol cases failed 1
    # run in 3 without it).
    sync_sleep_time = 0.01

    def get_hostname_and_port(self) -> Tuple[str, int]:
        """A free port on 127.0.0.1: our servers listen on loopback only
        (irctest's own helper binds 0.0.0.0)."""
        with self._used_ports() as used_ports:
            while True:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", 0))
                    hostname, port = s.getsockname()
                if (hostname, port) not in used_ports:
                    break
            used_ports.add((hostname, port))
            self._own_ports.add((hostname, port))
        return (hostname, port)

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str] = None,
        websocket_hostname: Optional[str] = None,
        websocket_port: Optional[int] = None,
    ) -> None:
        assert self.proc is None
        for stale in list(_live):
            if stale is not self:
                _stop(stale)
        # Skipping from here leaves no tearDown to call kill(): release the
        # ports irctest reserved for this test ourselves.
        # Accounts are built in (REGISTER, SASL): nothing else to run for
        # cases that want services (`registerUser` below), as for Ergo.
        if password is not None and not has_flag("--irc-password"):
            self.kill()
            raise NotImplementedByController("server password (--irc-password)")

        self.hostname = hostname
        self.port = port
        self.create_config()
        assert self.directory
        data_dir = self.directory / "data"
        data_dir.mkdir()

        args: List[str] = [
            chatroom_bin(),
            "serve",
            "--data-dir",
            str(data_dir),
            "--server-name",
            SERVER_NAME,
            "--listen",
            "off",
        ]

        if ssl:
            # No irctest server test uses TLS today; supported all the same.
            self.gen_ssl()
            args += [
                "--irc-tls-listen",
                f"{hostname}:{port}",
                "--tls-cert",
                str(self.pem_path),
                "--tls-key",
                str(self.key_path),
            ]
        else:
            args += ["--irc-listen", f"{hostname}:{port}"]

        if websocket_hostname is not None or websocket_port is not None:
            # Our server takes IRC over WebSocket (text.ircv3.net /
            # binary.ircv3.net) on the HTTP listener, at path /ws.
            args += ["--http-listen", f"{websocket_hostname}:{websocket_port}"]
        else:
            args += ["--http-listen", "off"]

        if has_flag("--oper"):
            args += ["--oper", f"{OPER_NAME}:{OPER_PASSWORD}"]
        if password is not None:
            args += ["--irc-password", password]
        if has_flag("--irc-autojoin"):
            # irctest expects a fresh client to be in no channel.
            args += ["--irc-autojoin", ""]
        if has_flag("--server-description"):
            # The description irctest's other controllers configure
            # (checked by LINKS).
            args += ["--server-description", "test server"]

        # Limits meant for the open internet get in the way of a conformance
        # suite that opens many connections and sends bursts from one
        # address; other servers' controllers turn their flood control off
        # the same way.  0 = no limit.
        for flag, value in [
            ("--messages-per-second", "0"),
            ("--requests-per-second", "0"),
            ("--registrations-per-hour", "0"),
            ("--rooms-per-hour", "0"),
            ("--max-connections-per-ip", "0"),
            ("--max-rooms-per-user", "0"),
            ("--write-linger", "0s"),
            # irctest's accounts have passwords such as "sesame1" or "foo".
            ("--min-password-chars", "1"),
            # Speed only: no fsync per message (semantics unchanged).
            ("--synchronous", "normal"),
        ]:
            if has_flag(flag):
                args += [flag, value]

        if faketime and shutil.which("faketime"):
            args = ["faketime", "-f", faketime] + args
            self.faketime_enabled = True

        self.proc = self.execute(args, proc_name="chatroom")
        _live.append(self)

    def kill(self) -> None:
        super().kill()
        if self in _live:
            _live.remove(self)

    def wait_for_services(self) -> None:
        """Accounts are part of the server: nothing to wait for."""

    def registerUser(
        self,
        case,  # irctest.cases.BaseServerTestCase
        username: str,
        password: Optional[str] = None,
    ) -> None:
        """Registers an account with the server's own IRC command,
        `REGISTER * * <password>` (IRCv3 draft account registration)."""
        assert password
        client = case.addClient(show_io=True)
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER r e g :user")
        while case.getRegistrationMessage(client).command != "001":
            pass
        case.getMessages(client)
        case.sendLine(client, f"REGISTER * * {password}")
        msgs = case.getMessages(client)
        ok = any(m.command == "REGISTER" and m.params[:1] == ["SUCCESS"] for m in msgs)
        if not ok:
            raise AssertionError(f"REGISTER for {username} failed: {msgs}")
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)


def get_irctest_controller_class() -> Type[ChatroomController]:
    return ChatroomController
