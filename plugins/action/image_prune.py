# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.image_prune: the module's work runs on the controller and only its
commands (one listing, docker image inspect, docker rmi) go over the task's connection, with the same arguments,
results and errors (plugin_utils/_on_controller.py).
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.modules.image_prune import module_spec, run_module
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    MODULE = "sertantai.deploy.image_prune"
    module_spec = staticmethod(module_spec)
    run_module = staticmethod(run_module)
