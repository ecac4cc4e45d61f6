"""bench/run.py play: the pyinfra equivalent of play5.yml, as far as pyinfra can express it.

pyinfra runs shell commands, not Python modules, on hosts: "ping" is ``true`` and get_fact reads
the facts file, so each step does less remote work than orch's or Ansible's. Host data (set by
the generated inventory): lab_dir, app_port, check_load.
"""

from pyinfra import host
from pyinfra.operations import server

server.shell(name="rpcutil.ping (true)", commands=["true"])
server.shell(name="rpcutil.get_fact (cat host.json)",
             commands=[f"cat {host.data.lab_dir}/hosts/{host.name}/host.json"])
server.shell(name="appmgr.status (curl the app)",
             commands=[f"curl -sf --noproxy '*' http://{host.data.ssh_hostname}:{host.data.app_port}/"])
server.shell(name="nrpe.runcommand check_load", commands=[host.data.check_load])
server.shell(name="rpcutil.ping (true)", commands=["true"])
