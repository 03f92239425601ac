"""test_list_sort_stress.py as a pytest test marked ftfuzz: the body of
the function is the scenario (the same one as ftfuzz_list_sort_len.py).
With the plugin loaded (-p ftfuzz_pytest), pytest does not call the
function: `ftfuzz explore` runs its body in ftfuzz's own interpreter, with
the module's imports it uses, and a failing schedule fails the test.

    PYTHONPATH=scripts/pytest python3 -m pytest -p ftfuzz_pytest \\
        --strict-markers harnesses/examples/free_threading
"""
import pytest


@pytest.mark.ftfuzz
def test_len_during_sort():
    def setup():
        return {"list": list(range(8)), "lengths": []}

    def thread_sort(state):
        state["list"].sort()

    def thread_len(state):
        state["lengths"].append(len(state["list"]))

    def check(state):
        assert state["lengths"] == [8], \
            f"len() saw {state['lengths'][0]} items while the list was sorted"
