"""The host-selection flags shared by every command that targets hosts (DESIGN §2)."""

from __future__ import annotations

import argparse


def add_selection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("host selection (repeated flags AND together; -I ORs)")
    group.add_argument("-C", "--class", dest="classes", action="append", default=[], metavar="CLASS",
                       help="host is in inventory group CLASS or has class CLASS (/regex/ allowed)")
    group.add_argument("-F", "--fact", dest="facts", action="append", default=[], metavar="EXPR",
                       help="fact filter: k=v k==v k!=v k<v k<=v k>v k>=v k=~/re/; dotted keys reach nested facts")
    group.add_argument("-I", "--identity", dest="identities", action="append", default=[], metavar="NAME",
                       help="host name, glob or /regex/ (repeat to OR)")
    group.add_argument("-A", "--agent", dest="agents", action="append", default=[], metavar="NAME",
                       help="host offers that module")
    group.add_argument("-S", "--select", dest="compound", action="append", default=[], metavar="EXPR",
                       help="compound filter, e.g. 'cluster=alfa and (web or not os.family=windows)'")
    group.add_argument("--limit", metavar="N|N%", help="at most N hosts (or N percent) of the match, seeded")
    group.add_argument("-i", "--inventory", action="append", metavar="PATH",
                       help="inventory file or folder (default from orch.cfg)")
    group.add_argument("--max-age", metavar="DURATION", help="refuse cached facts older than this (e.g. 1h)")
