"""`make dist`: packs the abi3 manylinux wheel around a prebuilt extension module.

    python pack_wheel.py <_native .so> <sdist .tar.gz> <out dir>

The extension comes from the one release build `make dist` runs for every artifact (cargo-zigbuild
linked against glibc 2.17, so `auditwheel show` reports manylinux_2_17); the metadata is the
PKG-INFO maturin wrote into the sdist, so wheel and sdist describe the same distribution. `wheel
pack` (pypa/wheel) writes the RECORD and names the file from the tags below.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TAGS = ["cp39-abi3-manylinux_2_17_x86_64", "cp39-abi3-manylinux2014_x86_64"]
PACKAGE = Path(__file__).resolve().parent.parent / "python" / "accounts"


def main() -> int:
    extension, sdist, out = (Path(a) for a in sys.argv[1:4])
    with tarfile.open(sdist) as tar:
        info = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        metadata = tar.extractfile(info).read().decode()  # type: ignore[union-attr]
    fields = dict(line.split(": ", 1) for line in metadata.splitlines() if ": " in line and not line.startswith(" "))
    name, version = fields["Name"].replace("-", "_"), fields["Version"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / f"{name}-{version}"
        shutil.copytree(PACKAGE, root / "accounts", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        shutil.copy(extension, root / "accounts" / "_native.abi3.so")
        dist_info = root / f"{name}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(metadata)
        wheel = ["Wheel-Version: 1.0", "Generator: accounts-rs pack_wheel.py", "Root-Is-Purelib: false"]
        (dist_info / "WHEEL").write_text("\n".join(wheel + [f"Tag: {t}" for t in TAGS]) + "\n")
        subprocess.run([sys.executable, "-m", "wheel", "pack", str(root), "-d", str(out)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
