# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of sertantai.deploy.electric_slots_info: with pg_container, the module's work runs on the controller
and only its commands (psql through docker exec) go over the task's connection, with the same arguments,
results and errors (plugin_utils/_on_controller.py); a direct connection runs the module on the host.
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.modules.electric_slots_info import module_spec, run_module
from ansible_collections.sertantai.deploy.plugins.plugin_utils._on_controller import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    MODULE = "sertantai.deploy.electric_slots_info"
    module_spec = staticmethod(module_spec)
    run_module = staticmethod(run_module)
    HERE_ONLY_WITH = "pg_container"
