from orch.cli import entry

entry()
