"""``make package`` ships bytecode: every module of the zip gets an unchecked-hash ``.pyc``
that Python loads without compiling, named for Lambda's code directory."""

from __future__ import annotations

import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

from infrastructure.bytecode import LAMBDA_ROOT, compile_package

TAG = sys.implementation.cache_tag


def test_the_package_loads_its_modules_from_bytecode(tmp_path: Path) -> None:
    package = tmp_path / "deployment.zip"
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("app.py", "import lib.mod\n")
        z.writestr("lib/__init__.py", "")
        z.writestr("lib/mod.py", "VALUE = 1\n")
        z.writestr("lib/__pycache__/stale.cpython-311.pyc", b"not bytecode")
    assert compile_package(package) == 3
    with zipfile.ZipFile(package) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "task")
    assert f"lib/__pycache__/mod.{TAG}.pyc" in names
    assert "lib/__pycache__/stale.cpython-311.pyc" not in names
    pyc = (tmp_path / "task" / "lib" / "__pycache__" / f"mod.{TAG}.pyc").read_bytes()
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, not checked
    assert marshal.loads(pyc[16:]).co_filename == f"{LAMBDA_ROOT}/lib/mod.py"
    # The source changes after packaging: an unchecked .pyc is still what loads.
    (tmp_path / "task" / "lib" / "mod.py").write_text("VALUE = 2\n")
    out = subprocess.run(
        [sys.executable, "-c", "import lib.mod; print(lib.mod.VALUE)"],
        cwd=tmp_path / "task",
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1"
