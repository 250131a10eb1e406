"""Exits 0 when every line of a requirements file (NAME or NAME==VERSION) is installed as asked, else 1 naming each."""
import re
import sys
from importlib import metadata

missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+?)(?:\[.*\])?\s*(?:==\s*([^\s;]+))?", line)
    if not m:
        missing.append(f"{line} (unparsed)")
        continue
    name, want = m.group(1), m.group(2)
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        missing.append(name)
        continue
    if want and have != want and have.split("+")[0] != want:
        missing.append(f"{name}=={want} (have {have})")
if missing:
    print("not installed: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
