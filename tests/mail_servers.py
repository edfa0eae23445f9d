"""Real mail servers on 127.0.0.1 for the email tests: aiosmtpd (SMTP with STARTTLS and
AUTH) and Debian's Dovecot (IMAP, plain + STARTTLS on one port, implicit TLS on another)
run as an unprivileged instance from a config file written here."""

from __future__ import annotations

import getpass
import grp
import imaplib
import os
import pwd
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from app.engine.devserver import free_port
from tests.tls_proxy import Certificates


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpServer:
    """aiosmtpd on its own thread; logins need TLS (STARTTLS, or TLS from the first byte
    with ``implicit_tls``) and this username/password. Recipients in ``refuse`` get a 550."""

    certificates: Certificates
    implicit_tls: bool = False
    username: str = "robot@example.test"
    password: str = field(default_factory=lambda: "smtp-" + secrets.token_urlsafe(16))
    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    def start(self) -> SmtpServer:
        owner = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope,
                                  address: str, options: list[str]) -> str:
                if address in owner.refuse:
                    return "550 5.1.1 no such mailbox here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
                owner.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content or b""))
                return "250 Message accepted"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         data: Any) -> AuthResult:
            ok = (isinstance(data, LoginPassword) and data.login.decode() == owner.username
                  and data.password.decode() == owner.password)
            return AuthResult(success=ok, handled=False, auth_data=data)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificates.server_cert, self.certificates.server_key)
        self.port = free_port()
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is TLS too.
        tls = {"ssl_context": context, "auth_require_tls": False} if self.implicit_tls \
            else {"tls_context": context, "auth_require_tls": True}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      authenticator=authenticate, **tls)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


DOVECOT_CONF = """\
base_dir = {work}/run
state_dir = {work}/state
instance_name = kianax-test-{port}
protocols = imap
listen = 127.0.0.1
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
log_path = {work}/dovecot.log
ssl = yes
ssl_cert = <{work}/server.pem
ssl_key = <{work}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={work}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """An unprivileged Dovecot: every login with ``password`` (any user name) opens that
    user's own maildir, so each test takes a fresh user. Run as root (a container), it
    drops to ``nobody`` first: Dovecot refuses to serve mail as root."""

    certificates: Certificates
    password: str = field(default_factory=lambda: "imap-" + secrets.token_urlsafe(16))

    def start(self) -> Dovecot:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            raise RuntimeError("dovecot not found: apt-get install dovecot-imapd")
        self.work = Path(tempfile.mkdtemp(prefix="kianax-dovecot-"))
        account = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
        command = [binary, "-F", "-c", str(self.work / "dovecot.conf")]
        if os.getuid() == 0:
            command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                       "--clear-groups", *command]
        self.port, self.ssl_port = free_port(), free_port()
        (self.work / "mail").mkdir()
        shutil.copy(self.certificates.server_cert, self.work / "server.pem")
        shutil.copy(self.certificates.server_key, self.work / "server.key")
        (self.work / "dovecot.conf").write_text(DOVECOT_CONF.format(
            work=self.work, port=self.port, ssl_port=self.ssl_port, password=self.password,
            user=account.pw_name if os.getuid() == 0 else getpass.getuser(),
            group=_group_name(account.pw_gid), uid=account.pw_uid, gid=account.pw_gid))
        if os.getuid() == 0:
            for path in (self.work, *self.work.rglob("*")):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not _listening(self.port) or not _listening(self.ssl_port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = self._process.stdout.read().decode() if self._process.stdout else ""
                self.stop()
                raise RuntimeError(f"dovecot did not start: {output}{self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        path = self.work / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in ``user``'s folder, unread, over IMAP APPEND."""
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as imap:
            imap.login(user, self.password)
            quoted = f'"{folder}"'
            if folder != "INBOX":
                imap.create(quoted)  # a second create of the same folder just answers NO
            status, reply = imap.append(quoted, None, None, raw)
            assert status == "OK", reply

    def flags(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Each message's flags, in order."""
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as imap:
            imap.login(user, self.password)
            imap.select(f'"{folder}"', readonly=True)
            _status, reply = imap.fetch("1:*", "(FLAGS)")
            return [item for item in reply if isinstance(item, bytes)]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def _group_name(gid: int) -> str:
    return grp.getgrgid(gid).gr_name


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
