"""A locked-down Mosquitto for the security checks: a password file, an ACL and TLS listeners
with certificates made on the spot (a CA, the broker's, a device's, and an impostor CA's).

The ACL is the one the README recommends; ``ACL`` below is its text.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import time
from dataclasses import dataclass
from pathlib import Path

from harstream.adapters.brokers import Mosquitto, free_port

ACL = """\
# the daemon: every device's readings in, every device's labels out, its own status and stats
user harstream
topic read har/+/imu
topic read sensor-logger
topic write har/+/activity
topic readwrite har/status
topic readwrite har/stats
topic write har/+/availability
topic write har/+/attributes
topic write homeassistant/sensor/#
topic write homeassistant/binary_sensor/#
topic read homeassistant/status

# a dashboard: reads everything under har/, writes nothing
user monitor
topic read har/#

# every other user is one device, named as its user name: its own readings out, its own labels in
pattern write har/%u/imu
pattern read har/%u/activity
pattern read har/status
"""


def password_line(user: str, password: str, iterations: int = 101) -> str:
    """A Mosquitto 2 password-file line ($7$: PBKDF2-SHA512, as ``mosquitto_passwd`` writes)."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"{user}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    wrong_name_cert: Path  # signed by the CA, but for another host
    wrong_name_key: Path
    client_cert: Path
    client_key: Path
    rogue_ca: Path  # an impostor: trusted by nobody
    rogue_client_cert: Path
    rogue_client_key: Path


def make_pki(folder: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def write(name: str, cert, key) -> tuple[Path, Path]:
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path

    def issue(cn: str, issuer=None, issuer_key=None, ca=False, names=(), usage=None):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject if issuer else subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if ca:
            builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                          encipher_only=False, decipher_only=False), critical=True)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return cert, key

    ca, ca_key = issue("harstream test CA", ca=True)
    rogue, rogue_key = issue("impostor CA", ca=True)
    here = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = issue("localhost", ca, ca_key, names=here, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    elsewhere = issue("broker.elsewhere.example", ca, ca_key, names=[x509.DNSName("broker.elsewhere.example")],
                      usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = issue("phone-a", ca, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    rogue_client = issue("phone-a", rogue, rogue_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    ca_path, _ = write("ca", ca, ca_key)
    rogue_path, _ = write("rogue-ca", rogue, rogue_key)
    return Pki(ca_path, *write("server", *server), *write("elsewhere", *elsewhere), *write("client", *client), rogue_path,
               *write("rogue-client", *rogue_client))


@dataclass
class SecureBroker:
    """Mosquitto with: ``port`` (passwords + ACL), ``tls_port`` (TLS + passwords + ACL), ``mtls_port``
    (TLS, client certificate required, as well as a password), ``wrong_name_port`` (TLS, a
    certificate for another host)."""

    broker: Mosquitto
    pki: Pki
    users: dict
    tls_port: int
    mtls_port: int
    wrong_name_port: int

    @property
    def port(self) -> int:
        return self.broker.port

    def connections(self) -> int:
        """How many connections the broker has seen (TLS handshakes that failed are logged apart)."""
        log = self.broker.log()
        return log.count("New connection from") + log.count("Client connection from")

    def stop(self) -> None:
        self.broker.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def secure_broker(folder: Path, users: dict[str, str]) -> SecureBroker:
    folder.mkdir(parents=True, exist_ok=True)
    pki = make_pki(folder / "pki")
    (folder / "passwords").write_text("".join(password_line(u, p) for u, p in users.items()))
    (folder / "acl").write_text(ACL)
    tls_port, mtls_port, wrong_port = free_port(), free_port(), free_port()
    tls = f"cafile {pki.ca}\n"
    extra = (f"allow_anonymous false\npassword_file {folder / 'passwords'}\nacl_file {folder / 'acl'}\nlog_type all\n"
             f"listener {tls_port} 127.0.0.1\n{tls}certfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
             f"listener {mtls_port} 127.0.0.1\n{tls}certfile {pki.server_cert}\nkeyfile {pki.server_key}\nrequire_certificate true\n"
             f"listener {wrong_port} 127.0.0.1\n{tls}certfile {pki.wrong_name_cert}\nkeyfile {pki.wrong_name_key}\n")
    broker = Mosquitto(extra=extra).start()
    deadline = time.monotonic() + 5
    while "New connection from" not in broker.log() and time.monotonic() < deadline:  # start()'s own probe, logged
        time.sleep(0.05)
    return SecureBroker(broker, pki, users, tls_port, mtls_port, wrong_port)
