"""The package's dependencies point one way (cli -> engine -> executor ->
chunk work -> kernel): no set of modules imports each other, directly or
through others, even through an import inside a function; and no private
(`_underscore`) name is imported from another package.

Read from the source with `ast`, so nothing is imported: every `import` and
`from ... import` at any depth, relative imports resolved. A package's
`__init__.py` is a module of its own (`simengine.report`); `from . import x`
is an edge to the submodule `x` where there is one, else to the package's
`__init__`. `python tests/test_architecture.py` prints the findings."""
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "simengine"

# Nothing is allowed: a circle or a private name taken across packages is a
# finding to fix, not to list here.
ALLOWED_CIRCLES = []
ALLOWED_PRIVATE = []


def module_files(root=PACKAGE) -> dict:
    """{dotted module name: file}; a package is its `__init__.py`."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_package(files, name) -> bool:
    return files[name].name == "__init__.py"


def imports(files):
    """(importer, imported module, name or None, line) of every import in
    `files` whose target is one of `files`' modules."""
    out = []
    for name, path in files.items():
        package = name if _is_package(files, name) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in files:
                        out.append((name, alias.name, None, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if sub in files:                 # a submodule: an edge to it
                        out.append((name, sub, None, node.lineno))
                    elif base in files:              # a name defined in `base`
                        out.append((name, base, alias.name, node.lineno))
    return out


def circles(edges) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    graph = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def private_imports(files, found):
    """(importer, module, name) of each `_name` taken from another package's
    module (a module's own package is the package it sits in)."""
    out = set()
    for importer, module, name, _ in found:
        if name is None or not name.startswith("_") or name.startswith("__"):
            continue
        home = module if _is_package(files, module) else module.rpartition(".")[0]
        own = importer if _is_package(files, importer) else importer.rpartition(".")[0]
        if home != own:
            out.add((importer, module, name))
    return out


def test_no_import_circles():
    files = module_files()
    found = circles({(a, b) for a, b, _, _ in imports(files)})
    unexpected = [sorted(c) for c in found if c not in ALLOWED_CIRCLES]
    assert not unexpected, f"modules that import each other: {unexpected}"


def test_no_private_names_across_packages():
    files = module_files()
    unexpected = sorted(private_imports(files, imports(files)) - set(ALLOWED_PRIVATE))
    assert not unexpected, f"private names imported from another package: {unexpected}"


def test_the_scan_sees_imports_inside_functions():
    """The scan is not blind to the imports that once held circles together."""
    files = module_files()
    edges = {(a, b) for a, b, _, _ in imports(files)}
    assert ("simengine.cli.commands", "simengine.engine") in edges     # inside functions
    assert circles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [{"a", "b", "c"}]


if __name__ == "__main__":
    files = module_files()
    found = imports(files)
    for c in circles({(a, b) for a, b, _, _ in found}):
        print("circle:", " ".join(sorted(c)))
    for p in sorted(private_imports(files, found)):
        print("private: %s takes %s.%s" % p)
