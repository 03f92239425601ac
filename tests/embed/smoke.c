/*
 * Embedding smoke test for the fuzz variant of CPython.
 *
 * Starts an isolated interpreter with home = the install prefix, runs two
 * Python threads that mutate a shared list and dict, and checks that this is
 * a free-threaded (GIL disabled) debug build whose stdlib, including a shared
 * extension module, came from the prefix.  Exit 0 only when all holds;
 * prints "smoke: ok" last.
 */
#include "embed_common.h"

static const char smoke_code[] =
    "import sys, sysconfig, threading\n"
    "assert sys.prefix == EXPECTED_HOME, (sys.prefix, EXPECTED_HOME)\n"
    "assert not sys._is_gil_enabled(), 'the GIL is enabled'\n"
    "assert sysconfig.get_config_var('Py_GIL_DISABLED') == 1\n"
    "assert hasattr(sys, 'gettotalrefcount'), 'not a debug build'\n"
    "import math\n"  /* a shared object in lib-dynload, hooked too */
    "assert math.__file__.startswith(EXPECTED_HOME + '/lib/'), math.__file__\n"
    "N = 20000\n"
    "KEYS = 64\n"
    "shared_list = []\n"
    "shared_dict = {}\n"
    "start = threading.Barrier(2)\n"
    "def work(tid):\n"
    "    start.wait()\n"
    "    for i in range(N):\n"
    "        shared_list.append((tid, i))\n"
    "        shared_dict[(tid, i)] = i\n"
    "        shared_dict[i % KEYS] = tid\n"   /* keys both threads write */
    "        if i % 100 == 0 and shared_list:\n"
    "            shared_list[-1]\n"
    "threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]\n"
    "for t in threads: t.start()\n"
    "for t in threads: t.join()\n"
    "assert len(shared_list) == 2 * N, len(shared_list)\n"
    "assert sorted(shared_list) == [(t, i) for t in range(2) for i in range(N)]\n"
    "for t in range(2):\n"
    "    mine = [i for (tid, i) in shared_list if tid == t]\n"
    "    assert mine == list(range(N)), 'a thread saw its appends reordered'\n"
    "assert len(shared_dict) == 2 * N + KEYS, len(shared_dict)\n"
    "assert all(shared_dict[(t, i)] == i for t in range(2) for i in range(N))\n"
    "assert all(shared_dict[k] in (0, 1) for k in range(KEYS))\n"
    "print('smoke: python', sys.version.split()[0],\n"
    "      'free-threaded debug, threads joined, list and dict consistent')\n";

int
main(void)
{
    PyObject *main_module, *home;

    embed_initialize();

    main_module = PyImport_AddModule("__main__");  /* borrowed */
    home = PyUnicode_FromString(FTFUZZ_PY_HOME);
    if (main_module == NULL || home == NULL
        || PyObject_SetAttrString(main_module, "EXPECTED_HOME", home) < 0) {
        PyErr_Print();
        return 1;
    }
    Py_DECREF(home);

    embed_run(smoke_code);
    embed_finalize();

    /* The hook is compiled in but was never switched on. */
    if (embed_points != 0) {
        fprintf(stderr, "smoke: %llu atomic points with the hook off\n",
                embed_points);
        return 1;
    }
    printf("smoke: ok\n");
    return 0;
}
