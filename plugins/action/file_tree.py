# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.file_tree: render the entries' templates here, then one module run, if needed.

Each entry with ``template`` is rendered on the controller the way ansible.builtin.template renders
(the role's templates/ search path, ansible_managed, the task's variables plus the entry's ``vars``)
and sent as ``content``; the module then ensures every entry on the host in one run. Before that, one
command over the connection reads what the entries compare (kinds, modes, owners, content hashes, link
targets, what a purge would remove): when everything is in place, that is the result, and no module is
built, sent and started on the host (most runs of a role change nothing).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.sertantai.deploy.plugins.module_utils import _file_tree
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import run_command

try:  # ansible-core 2.19 and later
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
    from ansible.template import trust_as_template
except ImportError:  # 2.17 and 2.18
    from ansible.template import generate_ansible_template_vars

    def trust_as_template(text):
        return text

MODULE = "sertantai.deploy.file_tree"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def render(self, name, entry_vars, dest, task_vars):
        try:
            source = self._find_needle("templates", name)
        except AnsibleError as exc:
            raise AnsibleActionFail("file_tree: template %s: %s" % (name, exc))
        searchpath = []
        for path in list(task_vars.get("ansible_search_path", [])) + [self._loader.get_basedir(), os.path.dirname(source)]:
            searchpath.extend([os.path.join(path, "templates"), path])
        variables = dict(task_vars)
        variables.update(generate_ansible_template_vars(path=name, fullpath=source, dest_path=dest,
                                                        include_ansible_managed="ansible_managed" not in variables))
        variables.update(entry_vars or {})
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        text = trust_as_template(self._loader.get_text_file_contents(source))
        return templar.template(text, escape_backslashes=False) or ""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        entries = []
        for entry in args.get("entries") or []:
            entry = dict(entry)
            if entry.get("template"):
                if entry.get("content") is not None:
                    raise AnsibleActionFail("file_tree: %s has both content and template" % entry.get("path"))
                entry["content"] = self.render(entry.pop("template"), entry.pop("vars", None), entry.get("path"), task_vars)
            entry.pop("vars", None)
            entries.append(entry)
        args["entries"] = entries
        found = self.in_place(entries, args.get("purge") or [], args.get("exists") or [])
        if found is not None:
            result.update(found)
            return result
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result

    def in_place(self, entries, purge, exists):
        """The module's result when the host shows every entry in place (one command); else None."""
        entries = [dict(entry, path=os.path.normpath(str(entry.get("path") or "")), state=entry.get("state") or "file")
                   for entry in entries]
        paths = [entry["path"] for entry in entries] + [str(path) for path in list(purge) + list(exists)]
        # Paths the module would expand (~, $HOME), or not absolute: the module decides.
        if not entries or any(not path.startswith("/") or "$" in path for path in paths):
            return None
        purge = [os.path.normpath(str(path)) for path in purge]
        exists = [str(path) for path in exists]
        rc, out, _err = run_command(self, _file_tree.read_command(entries, purge, exists))
        return _file_tree.in_place(entries, purge, exists, out) if rc == 0 else None
