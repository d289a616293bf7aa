"""Write .env from .env.example with freshly generated secrets (first `make run` only)."""

import secrets
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = root / ".env"
if target.exists():
    sys.exit(0)
lines = []
for line in (root / ".env.example").read_text(encoding="utf-8").splitlines():
    if line == "SECRET_KEY=":
        line = f"SECRET_KEY={secrets.token_hex(32)}"
    elif line == "ENCRYPTION_KEY=":
        line = f"ENCRYPTION_KEY={secrets.token_hex(32)}"
    lines.append(line)
target.write_text("\n".join(lines) + "\n", encoding="utf-8")
target.chmod(0o600)
print("wrote .env with generated SECRET_KEY and ENCRYPTION_KEY")
