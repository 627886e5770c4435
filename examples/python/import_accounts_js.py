"""Bring accounts-js users over: import a `mongoexport` JSON-lines file of the accounts-js `users`
collection into accounts-rs (docs/migrating-from-accounts-js.md).

    mongoexport --uri "$MONGO_URL" --collection users --out users.jsonl
    python import_accounts_js.py users.jsonl sqlite:accounts.db

Passwords (bcrypt), verified flags, two-factor secrets, ids and timestamps move; sessions do not
(users sign in again). Re-running skips users already imported.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Iterator, List

import accounts

BATCH = 500  # records per call: each call takes at most 1 MiB of JSON


def batches(path: str) -> Iterator[List[Dict[str, Any]]]:
    batch: List[Dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                batch.append(json.loads(line))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def main(path: str, db: str) -> int:
    secret = os.environ.get("ACCOUNTS_TOKEN_SECRET", "example-secret-change-me-0123456789abcdef")
    server = accounts.AccountsServer(db=db, token_secret=secret)
    imported = skipped = 0
    offset = 0
    for batch in batches(path):
        report = server.import_users(batch)
        imported += report["imported"]
        skipped += report["skipped"]
        for failure in report["failed"]:
            print(f"line {offset + failure['index'] + 1}: {failure['code']}: {failure['message']}")
        offset += len(batch)
    print(f"imported {imported}, skipped {skipped} (already there), failed {offset - imported - skipped}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
