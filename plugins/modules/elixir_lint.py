#!/usr/bin/python
# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: elixir_lint
short_description: Find compiled regexes stored in Elixir module attributes
version_added: 0.1.0
description:
  - Scans Elixir sources for module attributes whose value is a compiled regex, a C(~r)/C(~R) sigil
    (any delimiter, also inside lists, maps and multi-line values) or a C(Regex.compile!) call.
  - Elixir 1.18+ cannot inject a compiled C(Regex) (it holds a NIF reference) from a module attribute into a
    function body. A laptop that compiles from cached BEAM files succeeds; a fresh Docker build fails.
  - Raw pattern strings in attributes (C(@pattern "foo")), regexes compiled inside functions, and regexes in
    comments or documentation (C(@doc), C(@moduledoc) heredocs) are not reported.
  - The module only reads files; it never changes anything.
extends_documentation_fragment:
  - sertantai.deploy.attributes
  - sertantai.deploy.attributes.info_module
options:
  path:
    description:
      - A directory, scanned recursively for C(.ex) and C(.exs) files, or a single source file.
    type: path
    required: true
  exclude:
    description:
      - Directory names skipped at any depth while scanning a directory.
    type: list
    elements: str
    default: [_build, deps, node_modules, .git, .elixir_ls, cover]
  fail_on_findings:
    description:
      - Fail when there is at least one finding, with a message that names each C(file:line:attribute) and says
        how to fix it.
      - With V(false) the findings are only returned.
    type: bool
    default: true
author:
  - Sertantai deploy maintainers (@shotleybuilder)
"""

EXAMPLES = r"""
- name: Ensure no compiled regex sits in a module attribute before the Docker build
  sertantai.deploy.elixir_lint:
    path: "{{ playbook_dir }}/../backend/lib"

- name: Report findings without failing
  sertantai.deploy.elixir_lint:
    path: backend
    fail_on_findings: false
  register: regex_lint
"""

RETURN = r"""
findings:
  description: One entry per module attribute whose value holds a compiled regex, sorted by file.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: Source file, as found under O(path).
      type: str
      sample: backend/lib/legal/taxa/actor_definitions.ex
    line:
      description: Line of the attribute definition.
      type: int
      sample: 12
    attribute:
      description: Attribute name with its C(@).
      type: str
      sample: "@government_pattern"
    snippet:
      description: The attribute definition on one line (truncated to 120 characters).
      type: str
      sample: "@government_pattern ~r/\\bgovernment\\b/i"
  sample:
    - file: lib/app/actors.ex
      line: 12
      attribute: "@re"
      snippet: "@re ~r/foo/i"
files_scanned:
  description: Number of C(.ex)/C(.exs) files read.
  returned: always
  type: int
  sample: 42
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: "no compiled regex in module attributes (42 files)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sertantai.deploy.plugins.module_utils._elixir import (
    DEFAULT_EXCLUDE,
    ElixirLintError,
    failure_message,
    scan_path,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            exclude=dict(type="list", elements="str", default=list(DEFAULT_EXCLUDE)),
            fail_on_findings=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        findings, files = scan_path(module.params["path"], module.params["exclude"])
    except ElixirLintError as exc:
        module.fail_json(msg=exc.message, findings=[], files_scanned=0)

    result = dict(changed=False, findings=findings, files_scanned=files)
    if findings and module.params["fail_on_findings"]:
        module.fail_json(msg=failure_message(findings), **result)
    if findings:
        result["msg"] = "%d compiled regex(es) in module attributes (%d files)" % (len(findings), files)
    else:
        result["msg"] = "no compiled regex in module attributes (%d files)" % files
    module.exit_json(**result)


if __name__ == "__main__":
    main()
