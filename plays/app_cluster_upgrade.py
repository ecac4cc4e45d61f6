"""app_cluster_upgrade

MCollective's app_cluster_upgrade orchestration script, in Python:

    orch play plays/app_cluster_upgrade.py cluster=bravo backend=app revision=20

The same job as app_cluster_upgrade.yml: take the cluster's app servers out of HAProxy,
upgrade them two at a time, wait for a healthy load, put them back, summarize, notify.
"""

REQUIRES = ["rpcutil", "haproxy", "appmgr", "nrpe", "angelianotify"]


def run(orch):
    backend = orch.ask("Backend Name", "backend")
    revision = orch.ask("App Revision", "revision")
    cluster = orch.ask("Cluster Name", "cluster")
    try_sleep = orch.ask("Seconds between tries", "try_sleep", default=10, type="number")

    orch.validate(backend, r"\A[a-z]+\Z", "backend")
    orch.validate(revision, r"\A\d+\Z", "revision")
    orch.validate(cluster, r"\A[a-z]+\Z", "cluster")

    orch.announce(f"Updating cluster {cluster}")

    load_balancer = orch.discover(classes="haproxy", when_empty="No load balancers found",
                                  lock=False)
    load_balancer.ping()

    servers = orch.discover(agent="appmgr", fact=f"cluster={cluster}",
                            when_empty="No web servers found")
    servers.ping()

    app_update(orch, backend, int(revision), servers, load_balancer, try_sleep)

    message = f"{orch.user} updated {len(servers)} node cluster {cluster} to revision {revision}"
    notifier = orch.discover(agent="angelianotify", when_empty="No notification server found",
                             lock=False)
    orch.call("angelianotify.sendmsg", notifier,
              args={"recipient": "operators", "subject": "orch orchestration", "message": message})
    orch.announce(message)


def app_update(orch, backend, revision, servers, load_balancer, try_sleep):
    """Disable, upgrade two at a time, health-check, enable, summarize; on failure re-enable."""
    orch.call("haproxy.disable", load_balancer,
              args={"backend": backend, "server": servers.names}, resume="rerun")
    try:
        orch.call("appmgr.upgrade", servers, args={"revision": revision},
                  batch_size=2, tries=2, try_sleep=try_sleep, verbose=True)
        orch.call("nrpe.runcommand", servers, args={"command": "check_load"},
                  tries=10, try_sleep=try_sleep)
    finally:
        orch.call("haproxy.enable", load_balancer,
                  args={"backend": backend, "server": servers.names})

    orch.call("appmgr.status", servers, summarize=True)
