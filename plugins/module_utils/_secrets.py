# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: a service's secrets, generated once on the server and kept 0600.

A secret is ``base64(os.urandom(n))`` written to ``<dir>/<name>`` on first use and read back on
every later run, so it never changes by itself; a value given from the inventory (Ansible Vault)
replaces it. Values only ever travel in a module result that the task marks ``no_log``, and on the
server in a command's stdin or output, never on a command line.

The files are read and written with commands (``run_command``: AnsibleModule's on the host, or the
controller's over the task's connection, plugin_utils/_on_controller.py): one command reads them all.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re

from ansible_collections.sertantai.deploy.plugins.module_utils._commands import output

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# One line per path, in order: "F <mode> <base64 of the content>", "X" (not a regular file) or "-" (missing).
_READ = r"""
for p in "$@"; do
  if [ -f "$p" ]; then
    printf 'F %s ' "$(stat -c %a "$p")" && base64 -w0 < "$p" && echo || exit 3
  elif [ -e "$p" ]; then echo X
  else echo -
  fi
done
"""
# The value comes on stdin; the file is 0600 from the start, so it never sits where others could read it.
_WRITE = 'umask 077 && mkdir -p -m 0700 "$1" && cat > "$2.tmp" && chmod 0600 "$2.tmp" && mv -f "$2.tmp" "$2"'


class SecretsError(Exception):
    pass


_run = functools.partial(output, error=SecretsError)


def generate(nbytes, urandom=os.urandom):
    return base64.b64encode(urandom(nbytes)).decode("ascii")


def _read_all(run_command, paths):
    """{path: {"mode": int, "content": str} or None (missing)}; a path that is not a regular file is an error."""
    lines = _run(run_command, ["sh", "-c", _READ, "sh"] + list(paths)).splitlines()
    if len(lines) != len(paths):
        raise SecretsError("reading %d files printed %d lines" % (len(paths), len(lines)))
    found = {}
    for path, line in zip(paths, lines):
        if line == "-":
            found[path] = None
        elif line == "X":
            raise SecretsError("cannot read %s: not a regular file (a directory where a file should be is what Docker "
                               "makes when a container mounts a file that is missing)" % path)
        else:
            _kind, mode, encoded = (line.split(" ", 2) + [""])[:3]
            try:
                content = base64.b64decode(encoded).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise SecretsError("%s: unreadable content (%s)" % (path, exc))
            found[path] = {"mode": int(mode, 8), "content": content.strip()}
    return found


def ensure(run_command, directory, secrets, read_files=None, check_mode=False, urandom=os.urandom):
    """Ensure each secret exists (generated, or the given value) and return what every file holds.

    ``run_command``: AnsibleModule.run_command's contract, on the host that keeps the files. ``secrets``:
    [{name, bytes, value}]; ``read_files``: {name: path} read as they are (e.g. the database password another
    role keeps). Returns dict(values, created, replaced, files).
    """
    values, created, replaced, files = {}, [], [], {}
    for item in secrets:
        if not NAME_RE.match(item["name"]):
            raise SecretsError("secret name %r: use lower-case letters, digits and '_'" % item["name"])
    read_files = read_files or {}
    paths = [os.path.join(directory, item["name"]) for item in secrets]
    found = _read_all(run_command, paths + list(read_files.values()))
    for item, path in zip(secrets, paths):
        files[item["name"]] = path
        current = (found[path] or {}).get("content")
        wanted = item.get("value")
        if wanted:
            if current != wanted:
                replaced.append(item["name"])
                if not check_mode:
                    _run(run_command, ["sh", "-c", _WRITE, "sh", directory, path], data=wanted)
            values[item["name"]] = wanted
        elif current:
            values[item["name"]] = current
            if not check_mode and found[path]["mode"] != 0o600:
                _run(run_command, ["chmod", "0600", path])
        else:
            created.append(item["name"])
            value = generate(item.get("bytes") or 32, urandom)
            if not check_mode:
                _run(run_command, ["sh", "-c", _WRITE, "sh", directory, path], data=value)
            values[item["name"]] = value
    for name, path in read_files.items():
        if found[path] is None:
            if check_mode:
                values[name] = ""
                continue
            raise SecretsError("cannot read %s (%s): No such file or directory; apply the role that writes it first"
                               % (name, path))
        values[name] = found[path]["content"]
        files[name] = path
    return dict(values=values, created=created, replaced=replaced, files=files)
