# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: a command on the host whose failure is an error, through ``run_command``.

``run_command`` has AnsibleModule.run_command's contract: the module's own on the host, the controller's over
the task's connection (plugin_utils/_on_controller.py), or a subprocess wrapper in tests.
"""

from __future__ import annotations


def output(run_command, args, data=None, error=OSError):
    """The command's stdout; raises ``error`` with its stderr (else stdout) and exit status when it fails.
    ``data`` goes to its stdin as it is (no newline added)."""
    rc, out, err = run_command(args, data=data, binary_data=True)
    if rc != 0:
        raise error("%s (rc=%s)" % ((err or out).strip()[:300] or "%s failed" % args[0], rc))
    return out
