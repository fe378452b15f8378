"""A real IMAP server for the fetch tests: Dovecot in the foreground, private to one test.

Its configuration, passwd-file user, Maildir, sockets and log live in a temporary folder; it
listens on 127.0.0.1 on a free port, in plain text, or with TLS (a self-signed certificate made
by ``openssl``). Messages are delivered the Maildir way: written into ``tmp/``, renamed into ``new/``.

Dovecot refuses to run its login processes as root, and to give a mailbox to uid 0: run as root
(as here and in CI), the login processes and the mailbox owner are ``nobody``; run as anyone
else, everything is that user.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "clerk", "s3cret-授权码".encode().hex()  # an ASCII password, as 授权码 are
START_TIMEOUT = 20.0


def dovecot_path() -> str | None:
    """The dovecot binary, if installed."""
    found = shutil.which("dovecot") or (DOVECOT if Path(DOVECOT).is_file() else None)
    return found


def _header_date(raw: bytes) -> dt.datetime | None:
    """The Date header of a raw message, when it has one that names a real time."""
    from email.parser import BytesHeaderParser
    from email.utils import parsedate_to_datetime

    value = BytesHeaderParser().parsebytes(raw).get("Date")
    try:
        when = parsedate_to_datetime(str(value)) if value else None
        return when if when is not None and 1990 < when.year < 2100 else None
    except (TypeError, ValueError):
        return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Dovecot:
    """A running server: where to connect, and its Maildir to deliver into and inspect."""

    root: Path
    port: int
    tls_port: int
    cafile: Path | None
    process: subprocess.Popen[bytes]
    owner: tuple[int, int]
    counter: int = 0

    @property
    def maildir(self) -> Path:
        """The user's INBOX."""
        return self.root / "Maildir"

    def environ(self, security: str = "none") -> dict[str, str]:
        """The IMAP_* settings that reach this server."""
        env = {"IMAP_HOST": "127.0.0.1", "IMAP_USER": USER, "IMAP_PASSWORD": PASSWORD, "IMAP_SECURITY": security,
               "IMAP_PORT": str(self.tls_port if security == "ssl" else self.port)}
        if self.cafile is not None:
            env["IMAP_CAFILE"] = str(self.cafile)
        return env

    def deliver(self, raw: bytes, received: dt.datetime | None = None) -> Path:
        """Deliver one message into INBOX (tmp/ then new/, as a delivery agent does).

        The server's received time (IMAP INTERNALDATE, a Maildir file's time) is ``received``, else the
        message's own Date header when it has a usable one (mail is received when it is sent), else now.
        """
        self.counter += 1
        name = f"{int(time.time())}.M{self.counter}P{os.getpid()}.test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, *self.owner)
        when = received or _header_date(raw)
        if when is not None:
            os.utime(tmp, (when.timestamp(), when.timestamp()))
        target = self.maildir / "new" / name
        tmp.rename(target)
        return target

    def snapshot(self) -> list[tuple[str, str]]:
        """Every message file as (unique name, flags): what a client could have changed.

        Dovecot moves new mail from new/ to cur/ (adding “:2,”) when it first lists the folder:
        the server's own bookkeeping, so the folder is left out and a file in new/ has no flags.
        """
        found = []
        for sub in ("new", "cur"):
            for path in (self.maildir / sub).iterdir():
                unique, _, flags = path.name.partition(":2,")
                found.append((unique, flags))
        return sorted(found)

    def log(self) -> str:
        """The server's log, for a failure message."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _config(root: Path, port: int, tls_port: int, login_user: str, owner: tuple[int, int],
            certificate: tuple[Path, Path] | None) -> str:
    import grp  # POSIX only, like Dovecot itself: imported here so that the tests still collect (and skip) elsewhere
    import pwd

    ssl = "ssl = no" if certificate is None else f"ssl = yes\nssl_cert = <{certificate[0]}\nssl_key = <{certificate[1]}"
    internal = pwd.getpwuid(os.getuid()).pw_name
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(os.getgid()).gr_name}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={owner[0]} gid={owner[1]} home={root}/home
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""


def _wait_listening(server: Dovecot) -> None:
    """Poll until the server greets on its port; fail with its log when it dies or never does."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {server.process.returncode}:\n{server.log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
            if conn.recv(100).startswith(b"* OK"):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not answer on port {server.port}:\n{server.log()}")
        time.sleep(0.05)


@contextlib.contextmanager
def running_dovecot(*, tls: bool = False) -> Iterator[Dovecot]:
    """Start a private Dovecot and stop it (and remove its files) afterwards."""
    import pwd

    binary = dovecot_path()
    assert binary is not None, "dovecot is not installed"
    # Not pytest's tmp_path: that is private to root (0700), and the mailbox owner must reach the Maildir;
    # a short path also keeps Dovecot's socket paths below the 108-byte limit.
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            login_user, owner = "nobody", (nobody.pw_uid, nobody.pw_gid)
        else:
            login_user, owner = pwd.getpwuid(os.getuid()).pw_name, (os.getuid(), os.getgid())
        for sub in ("Maildir/new", "Maildir/cur", "Maildir/tmp", "home", "run", "state"):
            (root / sub).mkdir(parents=True)
        for sub in ("Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp", "home"):
            os.chown(root / sub, *owner)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        certificate = _certificate(root) if tls else None
        port, tls_port = _free_port(), _free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, port, tls_port, login_user, owner, certificate))
        process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        server = Dovecot(root, port, tls_port, certificate[0] if certificate else None, process, owner)
        _wait_listening(server)
        yield server
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)
