"""Certificates for the TLS tests: a CA, a server certificate for 127.0.0.1 / localhost, client
certificates (good, expired, signed by another CA), and a key under a passphrase."""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write(folder, name, cert, key, passphrase=None):
    crt = os.path.join(folder, name + ".crt")
    pem = os.path.join(folder, name + ".key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    enc = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
           else serialization.NoEncryption())
    with open(pem, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, enc))
    return crt, pem


def _ca(cn):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(ca, cn, server=False, days=(-1, 30)):
    ca_cert, ca_key = ca
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now + datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                            critical=False)
    b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                               x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def make(folder):
    """Writes every file into `folder`; returns their paths by name."""
    ca = _ca("Larder Test CA")
    other = _ca("Some Other CA")
    paths = {}
    with open(os.path.join(folder, "ca.crt"), "wb") as f:
        f.write(ca[0].public_bytes(serialization.Encoding.PEM))
    paths["ca"] = os.path.join(folder, "ca.crt")
    paths["server"] = _write(folder, "server", *_leaf(ca, "larder-server", server=True))
    paths["server2"] = _write(folder, "server2", *_leaf(ca, "larder-server-renewed", server=True))
    paths["server_pass"] = _write(folder, "server-pass", *_leaf(ca, "larder-server", server=True), passphrase="s3cret")
    paths["client"] = _write(folder, "client", *_leaf(ca, "client"))
    paths["expired"] = _write(folder, "expired", *_leaf(ca, "expired", days=(-30, -1)))
    paths["foreign"] = _write(folder, "foreign", *_leaf(other, "foreign"))
    return paths
