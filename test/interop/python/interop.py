"""Interop scenario for the official Python client (qdrant-client, prefer_grpc=True) through the
proxy over TLS. Driven by test/interop/run.sh; the contract (INTEROP_* environment, PASS/FAIL lines)
is described there. The proxy's CA goes in through the client's grpc_options (root_certificates).

The client's timeout is whole seconds (it rounds up: 0.3 -> 1), so the deadline step uses
ceil(INTEROP_TIMEOUT_MS / 1000) seconds, the shortest deadline its API can express.
"""

import math
import os
import sys
import time

import grpc
from qdrant_client import QdrantClient, models


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


HOST = env("INTEROP_HOST")
PORT = int(env("INTEROP_PORT"))
COLL = env("INTEROP_COLLECTION")
OTHER = env("INTEROP_OTHER_COLLECTION")
TIMEOUT_S = math.ceil(int(env("INTEROP_TIMEOUT_MS")) / 1000)
MAX_ELAPSED_MS = int(env("INTEROP_MAX_ELAPSED_MS"))
with open(env("INTEROP_CA"), "rb") as f:
    CA = f.read()

QUERY = [0.2, 0.1, 0.9, 0.7]
POINTS = [
    models.PointStruct(id=1, vector=[0.05, 0.61, 0.76, 0.74], payload={"city": "Berlin"}),
    models.PointStruct(id=2, vector=[0.19, 0.81, 0.75, 0.11], payload={"city": "London"}),
    models.PointStruct(id=3, vector=[0.36, 0.55, 0.47, 0.94], payload={"city": "Moscow"}),
]


# README: connecting
def client(api_key: str, timeout: int | None = None) -> QdrantClient:
    return QdrantClient(
        host=HOST,
        grpc_port=PORT,
        https=True,
        prefer_grpc=True,
        api_key=api_key,
        timeout=timeout,
        check_compatibility=False,
        grpc_options={"root_certificates": CA},
    )
# README: end


class StepFailed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise StepFailed(what)


def expect_code(code: grpc.StatusCode, what: str, fn) -> str:
    """Runs fn, which must fail with gRPC `code`; returns "CODE message"."""
    try:
        fn()
    except grpc.RpcError as err:
        if err.code() != code:
            raise StepFailed(f"{what}: expected {code.name}, got {err.code().name} {err.details()}")
        return f'{err.code().name} "{err.details()}"'
    raise StepFailed(f"{what}: expected {code.name}, but it succeeded")


def step(name: str, fn) -> None:
    try:
        print(f"PASS {name}: {fn()}", flush=True)
    except grpc.RpcError as err:
        print(f"FAIL {name}: {err.code().name} {err.details()}", flush=True)
    except Exception as err:  # noqa: BLE001 - any failure is this step's failure
        print(f"FAIL {name}: {type(err).__name__}: {err}", flush=True)


def search(c: QdrantClient, name: str):
    return c.query_points(collection_name=name, query=QUERY, limit=2).points


def full_key(admin: QdrantClient) -> str:
    for name in (COLL, OTHER):
        if admin.collection_exists(name):
            admin.delete_collection(name)
        created = admin.create_collection(
            name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
        )
        check(created is True, f"create {name}: {created!r}")
    admin.upsert(COLL, points=POINTS, wait=True)
    hits = search(admin, COLL)
    check(len(hits) == 2, f"query: {len(hits)} hits, expected 2")
    scrolled, _ = admin.scroll(COLL, limit=10, with_payload=True)
    check(len(scrolled) == 3, f"scroll: {len(scrolled)} points, expected 3")
    count = admin.count(COLL, exact=True).count
    check(count == 3, f"count: {count}, expected 3")
    names = sorted(c.name for c in admin.get_collections().collections)
    check(COLL in names and OTHER in names, f"list: {names} lacks {COLL} or {OTHER}")
    return f"created {COLL} and {OTHER}, upserted 3, query 2 hits, scroll 3, count 3, list has {len(names)}"


def read_only(reader: QdrantClient) -> str:
    hits = search(reader, COLL)
    check(len(hits) == 2, f"query: {len(hits)} hits, expected 2")
    denied = expect_code(
        grpc.StatusCode.PERMISSION_DENIED, "upsert", lambda: reader.upsert(COLL, points=POINTS[:1], wait=True)
    )
    return f"query 2 hits; upsert refused: {denied}"


def collection_jwt(scoped: QdrantClient) -> str:
    names = [c.name for c in scoped.get_collections().collections]
    check(names == [COLL], f"list: {names}, expected only {COLL}")
    count = scoped.count(COLL, exact=True).count
    check(count == 3, f"count {COLL}: {count}, expected 3")
    denied = expect_code(grpc.StatusCode.PERMISSION_DENIED, f"query {OTHER}", lambda: search(scoped, OTHER))
    return f"list = {names}; count {COLL} = 3; query {OTHER} refused: {denied}"


def deadline(admin: QdrantClient, hasty: QdrantClient) -> str:
    started = time.monotonic()
    err = expect_code(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        f"collection info with a {TIMEOUT_S} s timeout",
        lambda: hasty.get_collection(COLL),
    )
    elapsed = round((time.monotonic() - started) * 1000)
    check(elapsed < MAX_ELAPSED_MS, f"took {elapsed} ms, expected under {MAX_ELAPSED_MS} ms")
    count = admin.count(COLL, exact=True).count
    check(count == 3, f"count after the deadline: {count}, expected 3")
    return f"{err} after {elapsed} ms (client timeout {TIMEOUT_S} s, its minimum); the next call works"


def main() -> None:
    admin = client(env("INTEROP_API_KEY"))
    step("full-key", lambda: full_key(admin))
    step("read-only-key", lambda: read_only(client(env("INTEROP_READ_ONLY_KEY"))))
    step("collection-jwt", lambda: collection_jwt(client(env("INTEROP_JWT"))))
    step("deadline", lambda: deadline(admin, client(env("INTEROP_API_KEY"), timeout=TIMEOUT_S)))


if __name__ == "__main__":
    main()
