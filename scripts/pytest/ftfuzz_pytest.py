"""pytest plugin: explore ftfuzz scenarios as tests (docs/explore.md).

    PYTHONPATH=FTFUZZ/scripts/pytest python3 -m pytest -p ftfuzz_pytest \\
        [--ftfuzz=PATH] [--ftfuzz-iterations N] [--ftfuzz-seed S] \\
        [--ftfuzz-strategy S] [--ftfuzz-out DIR]

Two kinds of test become one `ftfuzz explore` run each:

- a scenario file (a file of setup(), thread_* functions and check(), as
  `ftfuzz explore` takes it) whose name matches the ini option
  `ftfuzz_files` (default `ftfuzz_*.py`), or which is named on the command
  line and defines thread_* functions (or THREADS) but no test functions;
- a test function marked `@pytest.mark.ftfuzz`: its body is the scenario.
  The body, with the module's imports that it uses, is written out as a
  scenario file, because a scenario runs in ftfuzz's own free-threaded
  interpreter, never in pytest's.

A schedule that fails is a test failure that shows explore's report and the
command that replays the schedule; a scenario explore refuses (exit status
2) is an error with explore's reason.  The exploration runs in the item's
setup, which is what makes a refused scenario an error; `--durations`
lists its time under setup.

Pure Python, standard library and pytest only: this file is the plugin.
"""
import ast
import builtins
import fnmatch
import os
import re
import shlex
import shutil
import subprocess

import pytest

# The last places the ftfuzz binary is looked for: beside this file, in a
# checkout (scripts/pytest/) or an install (PREFIX/share/ftfuzz/scripts/
# pytest/, make install).
_HERE = os.path.dirname(os.path.abspath(__file__))
_BESIDE = [os.path.normpath(os.path.join(_HERE, *up, "ftfuzz")) for up in
           (("..", "..", "build", "bin"), ("..", "..", "..", "..", "bin"))]


def pytest_addoption(parser):
    group = parser.getgroup("ftfuzz", "ftfuzz scenario exploration")
    group.addoption("--ftfuzz", metavar="PATH", dest="ftfuzz_bin",
                    help="the ftfuzz binary (default: $FTFUZZ_BIN, then "
                         "ftfuzz on PATH, then the one of the checkout or "
                         "install this plugin is in)")
    group.addoption("--ftfuzz-iterations", metavar="N", type=int,
                    dest="ftfuzz_iterations",
                    help="schedules per scenario (explore --iterations; "
                         "default: explore's)")
    group.addoption("--ftfuzz-seed", metavar="S", type=int,
                    dest="ftfuzz_seed",
                    help="seed of the first schedule (explore --seed)")
    group.addoption("--ftfuzz-strategy", metavar="S",
                    dest="ftfuzz_strategy",
                    help="explore --strategy, passed as it is")
    group.addoption("--ftfuzz-out", metavar="DIR", dest="ftfuzz_out",
                    help="where failing schedules (and the scenarios of "
                         "marked functions) are saved, one directory per "
                         "test (default: ftfuzz-out)")
    parser.addini("ftfuzz_files", type="args", default=["ftfuzz_*.py"],
                  help="glob patterns of scenario files to collect")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ftfuzz: the function's body is an ftfuzz scenario "
        "(setup, thread_* functions, check), explored by `ftfuzz explore` "
        "instead of being called (needs -p ftfuzz_pytest)")


# --- collection --------------------------------------------------------------

def _matches(path, patterns):
    return any(fnmatch.fnmatch(path.name, p) if "/" not in p
               else fnmatch.fnmatch(str(path), "*/" + p) for p in patterns)


def _looks_like_scenario(path, config):
    """A file named on the command line is a scenario when it defines
    thread functions (or THREADS) and no test functions."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    tests = config.getini("python_functions")
    threads = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(fnmatch.fnmatch(node.name, p) or node.name.startswith(p)
                   for p in tests):
                return False
            threads |= node.name.startswith("thread")
        elif isinstance(node, ast.Assign):
            threads |= any(isinstance(t, ast.Name) and t.id == "THREADS"
                           for t in node.targets)
    return threads


def _is_scenario_file(path, parent):
    if path.suffix != ".py":
        return False
    if _matches(path, parent.config.getini("ftfuzz_files")):
        return True
    return parent.session.isinitpath(path) and \
        _looks_like_scenario(path, parent.config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    """pytest's Python collector reaches files named on the command line
    and files matching python_files: a scenario among them is ours, and is
    never imported into pytest's interpreter."""
    if _is_scenario_file(module_path, parent):
        return ScenarioFile.from_parent(parent, path=module_path)
    return None


def pytest_collect_file(file_path, parent):
    """The scenario files pytest's Python collector does not reach."""
    if not _is_scenario_file(file_path, parent):
        return None
    if parent.session.isinitpath(file_path) or _matches(
            file_path, parent.config.getini("python_files")
            + ["__init__.py"]):
        return None   # pytest_pycollect_makemodule makes it
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    """A test function marked ftfuzz becomes an exploration of its body."""
    if not (callable(obj) and hasattr(obj, "__code__")
            and collector.funcnamefilter(name)):
        return None
    marked = any(m.name == "ftfuzz" for m in getattr(obj, "pytestmark", ()))
    if not marked and collector.get_closest_marker("ftfuzz") is None:
        return None
    return MarkedScenario.from_parent(collector, name=name, function=obj)


# --- the items ---------------------------------------------------------------

class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name="explore")


class ExploreProblem(Exception):
    """Raised in setup: the test is an error.  text is its whole report,
    summary the line of pytest's short test summary."""

    def __init__(self, text, summary=None):
        super().__init__(text)
        self.text = text
        self.summary = summary or text.splitlines()[0]


class ExploreFailed(ExploreProblem):
    """Raised in the call: explore found a failing schedule (its exit
    status 1), a test failure."""


class _Report:
    """A report's longrepr made of a problem's text, as it is: pytest's
    short test summary reads reprcrash.message."""

    class _Crash:
        def __init__(self, message):
            self.message = message

    def __init__(self, problem):
        self.text = problem.text
        self.reprcrash = self._Crash(problem.summary)

    def toterminal(self, tw):
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self):
        return self.text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """explore's own report instead of a traceback of this plugin."""
    outcome = yield
    if isinstance(item, ExploreItem) and call.excinfo is not None \
            and call.excinfo.errisinstance(ExploreProblem):
        outcome.get_result().longrepr = _Report(call.excinfo.value)


class ExploreItem(pytest.Item):
    """One `ftfuzz explore SCENARIO` run, in the item's setup, so that a
    scenario explore refuses is an error, not a failure.  Subclasses say
    which file is the scenario (scenario_path)."""

    result = None
    command = None

    def scenario_path(self, out):
        raise NotImplementedError

    def out_dir(self):
        config = self.config
        # relative to where pytest was started, as explore's --out is
        base = os.path.join(str(config.invocation_params.dir),
                            config.getoption("ftfuzz_out") or "ftfuzz-out")
        # one directory per test: two scenarios of one name never meet
        name = re.sub(r"[^A-Za-z0-9_.-]+", ".",
                      self.nodeid.replace(".py::", ".").replace("::", "."))
        return os.path.abspath(os.path.join(base, name.strip(".")))

    def setup(self):
        try:
            ftfuzz = find_ftfuzz(self.config)
            out = self.out_dir()
            os.makedirs(out, exist_ok=True)
            scenario = self.scenario_path(out)
        except OSError as e:
            raise ExploreProblem(f"ftfuzz: {e}") from None
        cmd = [ftfuzz, "explore", scenario, "--out", out]
        for option, flag in (("ftfuzz_iterations", "--iterations"),
                             ("ftfuzz_seed", "--seed"),
                             ("ftfuzz_strategy", "--strategy")):
            value = self.config.getoption(option)
            if value is not None:
                cmd += [flag, str(value)]
        self.command = cmd
        self.result = r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0:   # shown by -rP; a failure shows it all
            self.add_report_section("setup", "ftfuzz explore",
                                    shlex.join(cmd) + "\n" + r.stdout)
        if r.returncode not in (0, 1):
            why = (r.stderr or r.stdout).strip() or "no message"
            raise ExploreProblem(
                f"{why}\n\nftfuzz explore refused {self.scenario_name()} "
                f"(exit status {r.returncode}):\n  {shlex.join(cmd)}",
                why.splitlines()[0])

    def runtest(self):
        if self.result.returncode == 1:
            raise self.failure()

    def failure(self):
        r = self.result
        # "explore: saved PATH[ (as anchors)]; replay it with"
        m = re.search(r"^explore: saved (.+?)(?: \(as anchors\))?; "
                      r"replay it with$", r.stdout, re.M)
        replay = shlex.join([self.command[0], "replay", m.group(1)]) \
            if m else None
        first = re.search(r"^explore: (FAILING .*)$", r.stdout, re.M)
        what = first.group(1) if first else "FAILING schedule"
        head = [f"ftfuzz explore: {what}",
                f"  scenario: {self.scenario_name()}",
                f"  explored: {shlex.join(self.command)}"]
        if replay:
            head.append(f"  replay:   {replay}")
        text = "\n".join(head) + "\n\n" + r.stdout.rstrip() + "\n"
        if r.stderr.strip():
            text += "\n" + r.stderr.rstrip() + "\n"
        if replay:
            # the last lines a terminal shows: the command to copy
            text += f"\nreplay it with:\n  {replay}\n"
        return ExploreFailed(text, f"{what}; replay: "
                                   f"{replay or 'no input saved'}")

    def scenario_name(self):
        return self.nodeid

    def reportinfo(self):
        return self.path, None, f"ftfuzz explore {self.nodeid}"


class ScenarioItem(ExploreItem):
    def scenario_path(self, out):
        return str(self.path)

    def scenario_name(self):
        return str(self.path)


class MarkedScenario(ExploreItem):
    """A function marked ftfuzz: its body, written out as a scenario."""

    def __init__(self, *, function, **kw):
        super().__init__(**kw)
        self.function = function
        self.own_markers.extend(getattr(function, "pytestmark", ()))

    def scenario_path(self, out):
        text = scenario_of_function(self.function)
        path = os.path.join(out, self.function.__name__ + ".py")
        with open(path, "w") as f:
            f.write(text)
        return path

    def scenario_name(self):
        code = self.function.__code__
        return f"{self.nodeid} ({code.co_filename}:{code.co_firstlineno})"

    def reportinfo(self):
        return (self.path, self.function.__code__.co_firstlineno - 1,
                f"ftfuzz explore {self.nodeid}")


def find_ftfuzz(config):
    """--ftfuzz, $FTFUZZ_BIN, ftfuzz on PATH, this checkout's build."""
    option = config.getoption("ftfuzz_bin")
    given = option or os.environ.get("FTFUZZ_BIN")
    if given:
        path = given if os.sep in given else shutil.which(given)
        if not path or not os.access(path, os.X_OK):
            origin = "--ftfuzz" if option else "$FTFUZZ_BIN"
            raise ExploreProblem(f"ftfuzz binary {given} (from {origin}) "
                                 "is not an executable file")
        return os.path.abspath(path)
    for path in [shutil.which("ftfuzz")] + _BESIDE:
        if path and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise ExploreProblem(
        "no ftfuzz binary: pass --ftfuzz=PATH or set FTFUZZ_BIN (none on "
        f"PATH, nor at {' or '.join(_BESIDE)}: 'make cpython all' builds "
        "the first)")


# --- a marked function's body as a scenario ----------------------------------

def _bound_names(tree):
    """Every name the body binds anywhere (an over-approximation: a name
    bound in any scope counts)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                               ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _module_imports(tree):
    """{bound name: the import statement that binds it alone} for the
    module's top-level imports."""
    imports = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                bound = (a.asname or a.name).split(".")[0]
                imports[bound] = f"import {a.name}" + (
                    f" as {a.asname}" if a.asname else "")
        elif isinstance(node, ast.ImportFrom) and node.module != \
                "__future__" and node.level == 0:
            for a in node.names:
                if a.name != "*":
                    imports[a.asname or a.name] = (
                        f"from {node.module} import {a.name}"
                        + (f" as {a.asname}" if a.asname else ""))
    return imports


def scenario_of_function(fn):
    """The scenario text of a function marked ftfuzz: its body, at the
    same line numbers as in its file (so a traceback's lines are the test
    file's), after one line that puts the test's directory on sys.path
    and imports the module-level names the body uses."""
    filename = fn.__code__.co_filename
    where = f"{filename}:{fn.__code__.co_firstlineno}"
    try:
        with open(filename, "rb") as f:
            source = f.read().decode("utf-8")
        module = ast.parse(source, filename)
    except (OSError, SyntaxError, ValueError) as e:
        raise ExploreProblem(f"{where}: cannot read the source of "
                             f"{fn.__name__}: {e}") from None
    defs = [n for n in ast.walk(module)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.name == fn.__name__
            and min([n.lineno] + [d.lineno for d in n.decorator_list])
            == fn.__code__.co_firstlineno]
    if len(defs) != 1:
        raise ExploreProblem(f"{where}: cannot find the definition of "
                             f"{fn.__name__} in its file")
    node = defs[0]
    params = [a.arg for a in node.args.posonlyargs + node.args.args
              + node.args.kwonlyargs]
    params += [a.arg for a in (node.args.vararg, node.args.kwarg) if a]
    if params and params[0] == "self" and not node.args.posonlyargs:
        params = params[1:]
    if params or isinstance(node, ast.AsyncFunctionDef):
        raise ExploreProblem(
            f"{where}: {fn.__name__} takes {', '.join(params) or 'async'}: "
            "a function marked ftfuzz is a scenario run in ftfuzz's own "
            "interpreter, so it takes no arguments (no fixtures, no "
            "parametrize): its body defines setup(), thread_* functions "
            "and check()")
    lines = source.splitlines()
    first, last = node.body[0].lineno, node.body[-1].end_lineno
    indent = node.body[0].col_offset
    body = []
    for i in range(first - 1, last):
        line = lines[i]
        if i == first - 1 and first == node.lineno:
            line = line[indent:]   # "def test(): ..." on one line
        elif line[:indent].strip() == "":
            line = line[indent:]
        body.append(line)
    body_tree = ast.parse("\n".join(body), filename)

    used = {n.id for n in ast.walk(body_tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = _bound_names(body_tree) | {"__file__", "__name__",
                                       "__builtins__", "__doc__"}
    imports = _module_imports(module)
    free = sorted(used - bound - set(dir(builtins)))
    missing = [n for n in free if n not in imports]
    if missing:
        raise ExploreProblem(
            f"{where}: {fn.__name__} uses {', '.join(missing)}, which its "
            "body does not define: a function marked ftfuzz is a scenario "
            "run in ftfuzz's own interpreter, where only its body and the "
            "module's imports it uses exist (define helpers in the body, "
            "or import them from a module beside the test)")
    header = [f"import sys; sys.path.insert(0, "
              f"{os.path.dirname(os.path.abspath(filename))!r})"]
    header += [imports[n] for n in free]
    header = "; ".join(header)
    # the body keeps its line numbers: blank lines up to its first
    pad = max(0, first - 2)
    return header + "\n" + "\n" * pad + "\n".join(body) + "\n"
