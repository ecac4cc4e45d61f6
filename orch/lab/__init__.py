"""``orch lab``: a local fleet on real parts (DESIGN §7): one sshd serving every lab host on its
own loopback address, HAProxy on lb1, app servers on dev1..devN, a webhook on notify1.

``up``/``status``/``down`` return data (``LabStatus``); only ``orch/cli/commands/lab.py`` prints.
"""

from orch.lab.control import LabStatus, Service, down, status, up

__all__ = ["LabStatus", "Service", "down", "status", "up"]
