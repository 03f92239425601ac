"""test_list_sort_stress.py as an ftfuzz scenario: one thread sorts a
shared list while another reads its length, once each; ftfuzz tries the
interleavings instead of hoping for one.  On CPython 3.13.5
free-threaded, len() can see the list emptied by the sort (gh-126559),
and check() says so.

    ftfuzz explore harnesses/examples/free_threading/ftfuzz_list_sort_len.py
    python3 -m pytest -p ftfuzz_pytest harnesses/examples/free_threading
"""


def setup():
    # what the threads share, made afresh for every schedule
    return {"list": list(range(8)), "lengths": []}


def thread_sort(state):
    state["list"].sort()


def thread_len(state):
    state["lengths"].append(len(state["list"]))


def check(state):
    assert state["lengths"] == [8], \
        f"len() saw {state['lengths'][0]} items while the list was sorted"
