"""One module per ``orch`` command: ``HELP``, ``configure(parser)``, ``run(args, env)``."""
