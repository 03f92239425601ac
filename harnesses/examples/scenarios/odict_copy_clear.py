"""One OrderedDict, copied by one thread while another clears it.

CPython 3.13.5 free-threaded: odict_copy() walks the linked list of nodes
without a critical section while clear() frees them, so the copy reads a
freed node (SIGSEGV in odict_copy, or a debug assertion in
_odict_find_node).  CPython issue gh-125996.

    ftfuzz explore harnesses/examples/scenarios/odict_copy_clear.py
"""
import collections


def setup():
    return collections.OrderedDict((i, str(i)) for i in range(8))


def thread_copy(d):
    d.copy()


def thread_clear(d):
    d.clear()
