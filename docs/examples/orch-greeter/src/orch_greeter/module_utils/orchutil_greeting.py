"""Shared by the collection's modules: sent to each host once, before the modules using it."""


def greeting(name, punctuation="!"):
    return "hello %s%s" % (name, punctuation)
