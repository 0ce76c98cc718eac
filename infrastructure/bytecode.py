"""Compile a Lambda deployment package to bytecode, in place: ``python -m infrastructure.bytecode
build/<stage>/deployment.zip`` (``make package`` runs it).

Lambda's code directory is read-only, so a package without ``.pyc`` files compiles every module
it imports on every cold start: ours, and the wheels chalice unpacks (wheels carry no bytecode).
The files are compiled by this interpreter, which must be the runtime's version (chalice picks
the runtime from it too), as unchecked-hash ``.pyc``: a zip keeps modification times to two
seconds only, so timestamp-checked bytecode could be taken as stale and compiled again anyway.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

LAMBDA_ROOT = "/var/task"  # where Lambda unpacks the package: the tracebacks' file names


def compile_package(package: Path) -> int:
    """Replace ``package`` by a copy with a fresh ``.pyc`` beside each module; the count."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "package"
        with zipfile.ZipFile(package) as src:
            infos = [i for i in src.infolist() if not _is_bytecode(i.filename)]
            for info in infos:
                src.extract(info, root)
        ok = compileall.compile_dir(
            root,
            quiet=1,
            stripdir=str(root),
            prependdir=LAMBDA_ROOT,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            workers=0,
        )
        if not ok:
            raise SystemExit(f"{package}: a module does not compile")
        compiled = sorted(p for p in root.rglob("*.pyc"))
        out = Path(tmp) / "out.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in infos:
                if not info.is_dir():
                    dst.writestr(info, (root / info.filename).read_bytes())
            for path in compiled:
                dst.write(path, path.relative_to(root).as_posix())
        out.replace(package)
    return len(compiled)


def _is_bytecode(name: str) -> bool:
    return name.endswith(".pyc") or "/__pycache__/" in f"/{name}"


def main() -> None:
    for name in sys.argv[1:]:
        count = compile_package(Path(name))
        print(
            f"{name}: {count} modules compiled (Python {sys.version_info[0]}.{sys.version_info[1]})"
        )


if __name__ == "__main__":
    main()
