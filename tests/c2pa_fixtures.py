"""Pictures carrying Content Credentials, signed here with a certificate chain the test makes.

Why a made chain: C2PA signing needs an ES256 end-entity certificate (digitalSignature, emailProtection,
not a CA) issued by a CA; a root the test owns can also be given to the reader as a trust anchor, which
turns "untrusted" into "valid". Nothing is fetched: no timestamp authority, no trust list.
"""
from __future__ import annotations

import datetime
import io
import struct
from dataclasses import dataclass
from functools import lru_cache

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

SIGNER_NAME = "Test Photo Desk"
ISSUER_ORG = "Test News Agency"
GENERATOR = "imgsearch-tests"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@dataclass(frozen=True)
class Chain:
    root_pem: str
    signer: c2pa.Signer


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, ISSUER_ORG)])


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(**usage), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@lru_cache(maxsize=1)
def chain() -> Chain:
    """Root CA -> intermediate CA -> signer, ES256 (P-256) throughout; made once per test session."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("Test Root CA", root_key, "Test Root CA", root_key, ca=True)
    mid = _certificate("Test Intermediate CA", mid_key, "Test Root CA", root_key, ca=True)
    leaf = _certificate(SIGNER_NAME, leaf_key, "Test Intermediate CA", mid_key, ca=False)
    pem = lambda cert: cert.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pem(leaf) + pem(mid), key, None)
    return Chain(pem(root).decode(), c2pa.Signer.from_info(info))


def plain_jpeg(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small picture with no credentials, distinct per seed."""
    rng = [(seed * 37 + i * 11) % 256 for i in range(3)]
    image = Image.new("RGB", size, tuple(rng))
    image.paste((255 - rng[0], rng[2], rng[1]), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def signed_jpeg(seed: int, actions: tuple[str, ...] = ("c2pa.created", "c2pa.edited"), extra: dict | None = None) -> bytes:
    """A picture signed with `chain()`, its manifest listing `actions`."""
    manifest = {
        "claim_generator_info": [{"name": GENERATOR, "version": "1.0"}],
        "title": f"picture-{seed}.jpg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [_action(a) for a in actions]}},
                       *([extra] if extra else [])],
    }
    source, dest = io.BytesIO(plain_jpeg(seed)), io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(chain().signer, "image/jpeg", source, dest)
    return dest.getvalue()


def _action(name: str) -> dict:
    """c2pa requires a source type on `c2pa.created` (and that the first action creates or opens)."""
    return {"action": name, **({"digitalSourceType": CAPTURE} if name == "c2pa.created" else {})}


def altered(signed: bytes) -> bytes:
    """The signed file with pixels changed after signing (the entropy-coded data before the end marker)."""
    data = bytearray(signed)
    for i in range(len(data) - 120, len(data) - 20):
        data[i] ^= 0x55
    return bytes(data)


def _app11(signed: bytes) -> tuple[int, int]:
    start = signed.find(b"\xff\xeb")
    return start, struct.unpack(">H", signed[start + 2:start + 4])[0]


def malformed(signed: bytes) -> bytes:
    """The signed file with the manifest store's JUMBF boxes garbled (its segment lengths kept)."""
    start, length = _app11(signed)
    data = bytearray(signed)
    for i in range(start + 60, min(start + 260, start + length)):
        data[i] ^= 0xA5
    return bytes(data)


def hostile(seed: int) -> bytes:
    """A plain picture with a hand-made APP11 JUMBF segment whose boxes claim 2 GB."""
    plain = plain_jpeg(seed)
    body = (b"JP\x00\x01" + struct.pack(">I", 1) + struct.pack(">I", 0x7FFFFFFF) + b"jumb"
            + struct.pack(">I", 0x7FFFFFF0) + b"jumd" + b"c2pa" + b"\x00" * 12 + b"\x03c2pa\x00" + b"\xff" * 100)
    return plain[:2] + b"\xff\xeb" + struct.pack(">H", len(body) + 2) + body + plain[2:]
