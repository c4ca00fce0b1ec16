# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What each attribute means, written once. Every module extends this one (sertantai.deploy.attributes)
    # and then either one of the support fragments below or its own support values.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode (C(--check)) and report what would change without changing it.
  diff_mode:
    description: Returns what changed (or would change, in check mode) when run with C(--diff).
  idempotent:
    description:
      - Run twice in a row outside check mode with the same arguments, the second run reports no change,
        as long as nothing else changed what the module looks at.
"""

    # sertantai.deploy.attributes.info_module: a module that only reads (a lookup, a check or a gate).
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so it runs the same way in check mode.
  diff_mode:
    support: N/A
    details:
      - The module changes nothing, so there is nothing to diff.
  idempotent:
    support: full
    details:
      - The module changes nothing and always returns RV(ignore:changed=false).
"""

    # sertantai.deploy.attributes.change_with_diff: a module that changes state, predicts it in check mode
    # and shows it with --diff. A module adds its own details (what it would run, what the diff holds).
    CHANGE_WITH_DIFF = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module decides the same way and returns what it would change, but changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
"""
