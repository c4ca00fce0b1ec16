#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_tree
short_description: Many directories, files and links on the host in one module run
description:
  - Ensures each entry of O(entries) in order, as M(ansible.builtin.file) and M(ansible.builtin.copy) would one by
    one, in a single module run (a loop of those modules pays one module run per item).
  - A directory is created with its parents; a file is written atomically and only when its content differs; a link
    is replaced when it points elsewhere; C(absent) removes a file or a link. Owner, group and mode are set when
    given. Nothing removes a directory.
  - O(entries[].template) is rendered on the controller by the action plugin, with the task's variables and
    O(entries[].vars), as M(ansible.builtin.template) renders (same search path, C(ansible_managed)).
  - O(purge) removes the files and links of a directory that no entry names (sites that left the fleet).
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.change_with_diff
attributes:
  check_mode:
    details:
      - Returns what would change (RV(changed_paths), RV(purged)) and writes nothing.
  diff_mode:
    details:
      - One diff per changed path; the content of an entry with O(entries[].sensitive) is not shown.
options:
  entries:
    description: What should exist (or not), in the order it is ensured.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      state:
        description: What the path should be.
        type: str
        choices: [directory, file, link, absent]
        default: file
      content:
        description: Content of a C(file).
        type: str
      template:
        description: A template of the role (or the playbook) whose rendering is the content of a C(file).
        type: str
      vars:
        description: Variables for O(entries[].template) only, as the C(template) lookup's C(template_vars).
        type: dict
      src:
        description: Target of a C(link).
        type: str
      mode:
        description: Mode of a C(directory) or C(file), as a string such as C("0644").
        type: raw
      owner:
        description: Owner of a C(directory) or C(file).
        type: str
      group:
        description: Group of a C(directory) or C(file).
        type: str
      sensitive:
        description: Never show the content in a diff. A task that writes a secret also sets C(no_log=true), which hides
          its arguments.
        type: bool
        default: false
  purge:
    description:
      - Directories whose files and links that no entry names are removed (not below them; directories stay).
    type: list
    elements: path
    default: []
  exists:
    description: Paths to report in RV(exists), read once the entries are in place (in check mode, as they are).
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Ensure the directories and the site files of nginx
  sertantai.deploy.file_tree:
    entries:
      - {path: /opt/sertantai/nginx/conf.d, state: directory, mode: "0755"}
      - path: /opt/sertantai/nginx/conf.d/legal.example.com.conf
        template: site.conf.j2
        vars: {item: "{{ legal }}"}
        mode: "0644"
      - {path: /opt/sertantai/nginx/certs/legal.example.com/fullchain.pem, state: link,
         src: /etc/letsencrypt/live/legal.example.com/fullchain.pem}
    purge: [/opt/sertantai/nginx/conf.d]
    exists: [/opt/sertantai/nginx/certs/legal.example.com/privkey.pem]
"""

RETURN = r"""
changed_paths:
  description: The entries that changed (or would, in check mode), in order.
  returned: success
  type: list
  elements: str
purged:
  description: What O(purge) removed (or would remove).
  returned: success
  type: list
  elements: str
exists:
  description: "For each path of O(exists), whether something is there, C({path: true})."
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._file_tree import STATES, FileTreeError, apply


def main():
    module = AnsibleModule(
        argument_spec=dict(
            entries=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="path", required=True),
                state=dict(type="str", choices=list(STATES), default="file"),
                content=dict(type="str"),
                # Rendered into content by the action plugin; never reaches the host.
                template=dict(type="str"),
                vars=dict(type="dict"),
                src=dict(type="str"),
                mode=dict(type="raw"),
                owner=dict(type="str"),
                group=dict(type="str"),
                sensitive=dict(type="bool", default=False),
            )),
            purge=dict(type="list", elements="path", default=[]),
            exists=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        result = apply(module, module.params["entries"], module.params["purge"], module.params["exists"],
                       module.check_mode)
    except (FileTreeError, IOError, OSError) as exc:
        module.fail_json(msg="file_tree: %s" % exc)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
