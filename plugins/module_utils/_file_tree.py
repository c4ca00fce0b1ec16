# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many directories, files and links ensured in one module run (the module file_tree).

A role that ensured them one by one paid a module run for each (about half a second each on a
small server, whatever the module does). The rules are those of ansible.builtin.file and copy:
parents are created, a file is replaced atomically and only when its content differs, owner,
group and mode are set when given. Nothing here removes a directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile

STATES = ("directory", "file", "link", "absent")


class FileTreeError(Exception):
    pass


def _kind(path):
    """'directory', 'file', 'link', 'other' or None (nothing there)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


class Tree:
    """Applies entries with the module's helpers for owner, group and mode (which honour check mode)."""

    def __init__(self, module, check_mode):
        self.module = module
        self.check_mode = check_mode
        self.diff = []

    def attributes(self, entry, changed):
        if entry.get("mode") is None and entry.get("owner") is None and entry.get("group") is None:
            return changed
        if self.check_mode and _kind(entry["path"]) is None:
            return changed
        file_args = dict(path=entry["path"], mode=entry.get("mode"), owner=entry.get("owner"), group=entry.get("group"),
                         secontext=[None, None, None], attributes=None)
        return self.module.set_fs_attributes_if_different(file_args, changed)

    def directory(self, entry):
        path, kind = entry["path"], _kind(entry["path"])
        if kind not in (None, "directory"):
            raise FileTreeError("%s exists and is not a directory (%s)" % (path, kind))
        changed = kind is None
        if changed and not self.check_mode:
            os.makedirs(path)
        if changed:
            self.diff.append(dict(before_header=path, after_header=path, before="(absent)\n", after="(directory)\n"))
        return self.attributes(entry, changed)

    def file(self, entry):
        path, kind = entry["path"], _kind(entry["path"])
        if kind not in (None, "file"):
            raise FileTreeError("%s exists and is not a regular file (%s)" % (path, kind))
        wanted = entry["content"].encode("utf-8")
        before = _read(path) if kind == "file" else None
        changed = before != wanted
        if changed and not self.check_mode:
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".%s." % os.path.basename(path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(wanted)
                if kind == "file":
                    # The new file takes the old one's owner and mode unless the entry gives them.
                    old = os.stat(path)
                    os.chmod(tmp, stat.S_IMODE(old.st_mode))
                    os.chown(tmp, old.st_uid, old.st_gid)
                else:
                    # mkstemp makes 0600; a new file gets what open() would give it under the umask.
                    umask = os.umask(0)
                    os.umask(umask)
                    os.chmod(tmp, 0o666 & ~umask)
                os.rename(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        if changed:
            self.diff.append(dict(
                before_header=path, after_header=path,
                before="(absent)\n" if before is None else ("(sensitive)\n" if entry.get("sensitive")
                                                            else before.decode("utf-8", "replace")),
                after="(sensitive)\n" if entry.get("sensitive") else entry["content"]))
        return self.attributes(entry, changed)

    def link(self, entry):
        path, kind = entry["path"], _kind(entry["path"])
        if kind == "directory":
            raise FileTreeError("%s is a directory: refusing to replace it with a link to %s" % (path, entry["src"]))
        before = os.readlink(path) if kind == "link" else None
        changed = before != entry["src"]
        if changed and not self.check_mode:
            tmp = os.path.join(os.path.dirname(path), ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
            os.symlink(entry["src"], tmp)
            os.rename(tmp, path)
        if changed:
            self.diff.append(dict(before_header=path, after_header=path,
                                  before="(%s)\n" % ("absent" if kind is None else "link to %s" % before if before else kind),
                                  after="(link to %s)\n" % entry["src"]))
        return changed

    def absent(self, entry):
        path, kind = entry["path"], _kind(entry["path"])
        if kind == "directory":
            raise FileTreeError("%s is a directory: this module removes files and links only" % path)
        if kind is None:
            return False
        if not self.check_mode:
            os.unlink(path)
        self.diff.append(dict(before_header=path, after_header=path, before="(%s)\n" % kind, after="(absent)\n"))
        return True


def purge_candidates(directories, keep):
    """Files and links in each directory (not below) that are not in keep: what purge removes."""
    found = []
    for directory in directories:
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if path not in keep and _kind(path) in ("file", "link"):
                found.append(path)
    return found


def apply(module, entries, purge=(), exists=(), check_mode=False):
    """Ensures every entry in order, then removes from the purge directories what no entry names.

    Returns {changed, changed_paths, purged, exists, diff}."""
    tree = Tree(module, check_mode)
    entries = [dict(entry, path=os.path.normpath(entry["path"])) for entry in entries]
    changed_paths = []
    for entry in entries:
        state = entry["state"]
        if state == "file" and entry.get("content") is None:
            raise FileTreeError("%s: state=file needs content (or template, rendered by the action plugin)" % entry["path"])
        if state == "link" and not entry.get("src"):
            raise FileTreeError("%s: state=link needs src" % entry["path"])
        if getattr(tree, state)(entry):
            changed_paths.append(entry["path"])
    purged = purge_candidates([os.path.normpath(d) for d in purge], set(entry["path"] for entry in entries))
    for path in purged:
        tree.absent(dict(path=path))
    # Read after the changes: what exists once the tree is in place.
    present = dict((path, _kind(path) is not None) for path in exists)
    return dict(changed=bool(changed_paths or purged), changed_paths=changed_paths, purged=purged, exists=present,
                diff=tree.diff)


# What in_place() compares, read on the host in one command (the action plugin runs it before the module):
# after "sh -c <script> sh <n> <n purge directories> <paths>", the files and links of each purge directory
# ("purge <path>"), a line "--", then one line per path: "link <target>", "directory|file <mode> <owner>
# <group> <uid> <gid>" (a file then its sha256), "other" or "none".
READ_SCRIPT = r"""
n=$1; shift
while [ "$n" -gt 0 ]; do
  [ -d "$1" ] && find "$1" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) -printf 'purge %p\n'
  shift; n=$((n - 1))
done
echo --
for p in "$@"; do
  if [ -L "$p" ]; then printf 'link %s\n' "$(readlink "$p")"
  elif [ -d "$p" ]; then stat -c 'directory %a %U %G %u %g' "$p"
  elif [ -f "$p" ]; then printf 'file %s %s\n' "$(stat -c '%a %U %G %u %g' "$p")" "$(sha256sum < "$p" | cut -c1-64)"
  elif [ -e "$p" ]; then echo other
  else echo none
  fi
done
"""


def read_command(entries, purge, exists):
    """The command whose output in_place() reads."""
    paths = [entry["path"] for entry in entries] + list(exists)
    return ["sh", "-c", READ_SCRIPT, "sh", str(len(purge))] + list(purge) + paths


def _mode(mode):
    """An entry's mode as a number; ValueError for a symbolic one (the module alone applies those)."""
    if isinstance(mode, int):
        return mode
    if re.match(r"^0?[0-7]{3,4}$", str(mode)):
        return int(str(mode), 8)
    raise ValueError(mode)


def _attributes_match(entry, fields):
    mode, owner, group, uid, gid = fields[:5]
    if entry.get("mode") is not None and _mode(entry["mode"]) != int(mode, 8):
        return False
    for wanted, name, number in ((entry.get("owner"), owner, uid), (entry.get("group"), group, gid)):
        if wanted is not None and wanted not in (name, number):
            return False
    return True


def in_place(entries, purge, exists, output):
    """The result apply() returns when it has nothing to do, if the output of read_command() shows that every
    entry is in place and nothing is to purge; None when something would change or the output cannot tell
    (then the module decides)."""
    lines = output.split("\n")
    if "--" not in lines:
        return None
    cut = lines.index("--")
    candidates, found = lines[:cut], lines[cut + 1:]
    if found and found[-1] == "":
        found.pop()
    if len(found) != len(entries) + len(exists):
        return None
    named = set(entry["path"] for entry in entries)
    if any(not line.startswith("purge ") or line[6:] not in named for line in candidates):
        return None
    try:
        for entry, line in zip(entries, found):
            kind, _sep, rest = line.partition(" ")
            state = entry["state"]
            if state == "absent":
                ok = kind == "none"
            elif state == "link":
                ok = kind == "link" and rest == entry.get("src")
            elif state == "directory":
                ok = kind == "directory" and _attributes_match(entry, rest.split(" "))
            else:
                fields = rest.split(" ")
                ok = (kind == "file" and entry.get("content") is not None and len(fields) == 6
                      and fields[5] == hashlib.sha256(entry["content"].encode("utf-8")).hexdigest()
                      and _attributes_match(entry, fields))
            if not ok:
                return None
    except ValueError:
        return None
    present = dict((path, line != "none") for path, line in zip(exists, found[len(entries):]))
    return dict(changed=False, changed_paths=[], purged=[], exists=present)
