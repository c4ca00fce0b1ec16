"""_certificates: which domains are due, read from certbot's files."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.sertantai.deploy.plugins.module_utils import _certificates

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)


def write_cert(config_dir, domain, days):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    live = config_dir / "live" / domain
    live.mkdir(parents=True)
    (live / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_due_when_missing_or_within_the_window(tmp_path):
    write_cert(tmp_path, "fresh.example.com", 80)
    write_cert(tmp_path, "old.example.com", 10)
    result = _certificates.read(str(tmp_path), ["fresh.example.com", "old.example.com", "new.example.com"], 30, now=NOW)
    assert result["due"] == ["old.example.com", "new.example.com"]
    assert result["existing"] == ["fresh.example.com", "old.example.com"]
    fresh = result["certificates"]["fresh.example.com"]
    assert fresh["days_left"] == 80 and fresh["not_after"] == "2027-02-15T12:00:00Z" and not fresh["due"]
    assert result["certificates"]["new.example.com"]["not_after"] is None


def test_renewal_threshold_read_from_the_renewal_file(tmp_path):
    write_cert(tmp_path, "a.example.com", 80)
    write_cert(tmp_path, "b.example.com", 80)
    (tmp_path / "renewal").mkdir()
    (tmp_path / "renewal" / "a.example.com.conf").write_text("version = 2.9.0\nrenew_before_expiry = 30 days\n")
    (tmp_path / "renewal" / "b.example.com.conf").write_text("version = 2.9.0\n")
    result = _certificates.read(str(tmp_path), ["a.example.com", "b.example.com"], 30, now=NOW)
    assert result["certificates"]["a.example.com"]["renew_before_expiry"] == "30 days"
    assert result["certificates"]["b.example.com"]["renew_before_expiry"] is None
    assert result["threshold_differs"] == []
    assert _certificates.read(str(tmp_path), ["a.example.com"], 20, now=NOW)["threshold_differs"] == ["a.example.com"]
