#!/usr/bin/env bash
# Rebuild bytecode.json from TestContracts.sol with solcjs 0.8.28 (npm package `solc@0.8.28`).
# Usage: bash build.sh /path/to/node_modules/.bin/solcjs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
solcjs="${1:-solcjs}"
out="$(mktemp -d)"
"$solcjs" --bin --abi --optimize --optimize-runs 200 -o "$out" "$here/TestContracts.sol"
python3 - "$out" "$here/bytecode.json" <<'PY'
import json, sys
from pathlib import Path
out, target = Path(sys.argv[1]), Path(sys.argv[2])
result = {}
for name in ("Forwarder", "Reverter", "Token", "Bare", "Nft"):
    [binf] = out.glob(f"*_{name}.bin")
    [abif] = out.glob(f"*_{name}.abi")
    result[name] = {"abi": json.loads(abif.read_text()), "bytecode": "0x" + binf.read_text().strip()}
target.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
PY
