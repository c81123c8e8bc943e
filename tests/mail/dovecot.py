"""A real IMAP server for the tests: Debian's dovecot-imapd, started with a temporary configuration.

Its own base_dir, maildirs and log in a temporary directory; any user name logs in with the password
`secret` (a static passdb), so each test takes a fresh account and tests sharing one server never see each
other's mail. Plain IMAP (with STARTTLS) and IMAPS listen on 127.0.0.1 on free ports, with a self-signed
certificate for 127.0.0.1 (`cert`, to trust through SSL_CERT_FILE). Run as root, the login processes run as
Debian's `dovenull`, and mail as `dovecot` (dovecot refuses uid 0 for both); otherwise all as the current
user.
"""

from __future__ import annotations

import datetime
import grp
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = Path("/usr/sbin/dovecot")
PASSWORD = "secret"


def missing() -> str | None:
    """Why the tests cannot have a dovecot, or None."""
    if not DOVECOT.exists():
        return f"dovecot-imapd is not installed ({DOVECOT} is absent): apt-get install -y dovecot-imapd"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key.chmod(0o600)


class Dovecot:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: its 0700 parents would keep dovecot's unprivileged processes out.
        self.root = Path(tempfile.mkdtemp(prefix="deskbase-dovecot-"))
        self.root.chmod(0o755)
        self.port = _free_port()
        self.ssl_port = _free_port()
        self.cert = self.root / "cert.pem"
        self.log = self.root / "dovecot.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        key = self.root / "key.pem"
        _self_signed(self.cert, key)
        mail = self.root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            login, internal = "dovenull", "dovecot"
            uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
            os.chown(mail, uid, gid)
        else:
            login = internal = pwd.getpwuid(os.geteuid()).pw_name
            uid, gid = os.geteuid(), os.getegid()
        return f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
protocols = imap
listen = 127.0.0.1
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{mail}/%u
first_valid_uid = {uid}
first_valid_gid = {gid}
mailbox_idle_check_interval = 1 secs
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{key}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> None:
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config())
        self._proc = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    log = self.log.read_text() if self.log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"dovecot did not start:\n{err}\n{log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- a client, as a customer's mail server would deliver ------------------------------------------
    def client(self, user: str) -> IMAPClient:
        c = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        c.login(user, PASSWORD)
        return c

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver a message by APPEND; returns its UID."""
        return self.append_all(user, [raw], folder)[0]

    def append_all(self, user: str, raws: list[bytes], folder: str = "INBOX") -> list[int]:
        """Deliver messages by APPEND, in order, over one connection; returns their UIDs."""
        with self.client(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            answers = [c.append(folder, raw) for raw in raws]
        return [int(a.split(b"]")[0].split()[-1]) for a in answers]

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search()
            return {uid: item[b"FLAGS"] for uid, item in c.fetch(uids, ["FLAGS"]).items()} if uids else {}
