"""A free-threading stress test, written the way CPython's
Lib/test/test_free_threading/ tests are: several real threads start
together at a barrier and hammer one shared list in loops, and the test
hopes that some iteration lands in the window.

One thread sorts the list while the others read its length.  len() must
always be 100: sorting does not change the number of items.  On CPython
3.13.5 free-threaded, list.sort() empties the list for the duration of
the sort and len() does not wait for it (gh-126559), so a reader can see
0.  Whether a run of this test sees it depends on the machine's timing.

    python3.13t -m unittest test_list_sort_stress    # real threads

The same race as an ftfuzz scenario, explored schedule by schedule:
ftfuzz_list_sort_len.py (a scenario file) and test_list_sort_marked.py
(a test function marked ftfuzz); docs/explore.md says what changes.
"""
import sys
import threading
import unittest

NTHREADS = 4
ITERATIONS = 1000


# skipped with the GIL, as all of test_free_threading/ is: sorting ints
# holds the GIL from start to end, so len() never sees it half done
@unittest.skipIf(getattr(sys, "_is_gil_enabled", lambda: True)(),
                 "needs a free-threaded Python with the GIL disabled")
class TestListSort(unittest.TestCase):
    def test_racing_sort_and_len(self):
        shared = list(range(100))
        barrier = threading.Barrier(NTHREADS)
        seen = []

        def sorter():
            barrier.wait()
            for _ in range(ITERATIONS):
                shared.sort()

        def reader():
            barrier.wait()
            for _ in range(ITERATIONS):
                n = len(shared)
                if n != 100:
                    seen.append(n)

        threads = [threading.Thread(target=sorter)]
        threads += [threading.Thread(target=reader)
                    for _ in range(NTHREADS - 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(seen, [], "len() saw a list being sorted")


if __name__ == "__main__":
    unittest.main()
