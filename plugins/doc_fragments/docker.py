# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches Docker; the argument spec is docker_argument_spec() in module_utils/_docker.py.
    DOCUMENTATION = r"""
options:
  docker_cli:
    description:
      - The Docker CLI to run on the host that runs the module. Its engine is the one that
        C(DOCKER_HOST) or the default socket points to.
    type: str
    default: docker
requirements:
  - The Docker CLI on the host that runs the module.
"""
