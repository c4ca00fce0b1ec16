# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: a service's secrets, generated once on the server and kept 0600.

A secret is ``base64(os.urandom(n))`` written to ``<dir>/<name>`` on first use and read back on
every later run, so it never changes by itself; a value given from the inventory (Ansible Vault)
replaces it. Values only ever travel in a module result that the task marks ``no_log``.
"""

from __future__ import annotations

import base64
import os
import re

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SecretsError(Exception):
    pass


def generate(nbytes, urandom=os.urandom):
    return base64.b64encode(urandom(nbytes)).decode("ascii")


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def _write(path, value):
    # Created 0600 from the start: the value never sits in a file others could read.
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    os.chmod(path + ".tmp", 0o600)
    os.rename(path + ".tmp", path)


def ensure(directory, secrets, read_files=None, check_mode=False, urandom=os.urandom):
    """Ensure each secret exists (generated, or the given value) and return what every file holds.

    ``secrets``: [{name, bytes, value}]; ``read_files``: {name: path} read as they are (e.g. the
    database password another role keeps). Returns dict(values, created, replaced, files).
    """
    values, created, replaced, files = {}, [], [], {}
    for item in secrets:
        if not NAME_RE.match(item["name"]):
            raise SecretsError("secret name %r: use lower-case letters, digits and '_'" % item["name"])
    if not check_mode and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700)
    for item in secrets:
        path = os.path.join(directory, item["name"])
        files[item["name"]] = path
        current = _read(path) if os.path.exists(path) else None
        wanted = item.get("value")
        if wanted:
            if current != wanted:
                replaced.append(item["name"])
                if not check_mode:
                    _write(path, wanted)
            values[item["name"]] = wanted
        elif current:
            values[item["name"]] = current
            if not check_mode and (os.stat(path).st_mode & 0o777) != 0o600:
                os.chmod(path, 0o600)
        else:
            created.append(item["name"])
            value = generate(item.get("bytes") or 32, urandom)
            if not check_mode:
                _write(path, value)
            values[item["name"]] = value
    for name, path in (read_files or {}).items():
        try:
            values[name] = _read(path)
        except (IOError, OSError) as exc:
            if check_mode:
                values[name] = ""
                continue
            raise SecretsError("cannot read %s (%s): %s; apply the role that writes it first" % (name, path, exc.strerror))
        files[name] = path
    return dict(values=values, created=created, replaced=replaced, files=files)
