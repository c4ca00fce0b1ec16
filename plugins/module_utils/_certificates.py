# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What certbot holds for each domain, read in one go (the module certificates_info).

Per domain: whether /etc/letsencrypt/live/<domain>/cert.pem exists, when it expires, whether it is
due (missing or expiring within the renewal window), and the renew_before_expiry of its renewal
file, which certbot renew reads.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess

try:  # certbot depends on python3-cryptography; without it, openssl reads the certificate
    from cryptography import x509
except ImportError:
    x509 = None

RENEW_LINE = re.compile(r"^\s*renew_before_expiry\s*=\s*(.*?)\s*$", re.MULTILINE)


class CertificatesError(Exception):
    pass


def not_after(path):
    """The certificate's expiry (aware UTC datetime): with cryptography when it is there, else openssl."""
    with open(path, "rb") as handle:
        data = handle.read()
    if x509 is not None:
        cert = x509.load_pem_x509_certificate(data)
        expiry = getattr(cert, "not_valid_after_utc", None)
        return expiry if expiry is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    try:
        proc = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=data, capture_output=True, check=False)
    except OSError as exc:
        raise CertificatesError("%s: neither python3-cryptography nor openssl is there to read it (%s)" % (path, exc))
    if proc.returncode != 0:
        raise CertificatesError("%s: openssl cannot read it: %s" % (path, proc.stderr.decode("utf-8", "replace").strip()))
    text = proc.stdout.decode("ascii", "replace").strip().split("=", 1)[-1]
    return datetime.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)


def renew_before_expiry(path):
    """The renew_before_expiry value of a renewal file, or None (no file, no line)."""
    try:
        with open(path, encoding="utf-8") as handle:
            match = RENEW_LINE.search(handle.read())
    except FileNotFoundError:
        return None
    return match.group(1) if match else None


def read(config_dir, domains, renew_before_days, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    window = now + datetime.timedelta(days=renew_before_days)
    wanted_threshold = "%d days" % renew_before_days
    certificates = {}
    for domain in domains:
        cert = os.path.join(config_dir, "live", domain, "cert.pem")
        info = dict(exists=os.path.exists(cert), not_after=None, days_left=None, due=True,
                    renew_before_expiry=renew_before_expiry(os.path.join(config_dir, "renewal", domain + ".conf")))
        if info["exists"]:
            expiry = not_after(cert)
            info.update(not_after=expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), days_left=(expiry - now).days,
                        due=expiry <= window)
        certificates[domain] = info
    return dict(
        certificates=certificates,
        due=[d for d in domains if certificates[d]["due"]],
        existing=[d for d in domains if certificates[d]["exists"]],
        # Renewal files that certbot renew would read with another threshold than this role's.
        threshold_differs=[d for d in domains if certificates[d]["renew_before_expiry"] not in (None, wanted_threshold)],
    )
