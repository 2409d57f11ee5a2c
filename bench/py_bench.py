"""Python side of the benchmarks: requests, as researchers use it.

    python3 py_bench.py seq  BASE_URL IDS_FILE N TOKEN       one requests.Session, N calls
    python3 py_bench.py conc BASE_URL IDS_FILE N C TOKEN     ThreadPoolExecutor(C), a Session
                                                             per thread
Each call is s.get(url).json() with the status checked. Prints the seconds the N calls took
(after a warm-up that opens the connections).
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def main():
    mode, base, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4])
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    work = [ids[i % len(ids)] for i in range(n)]
    if mode == "seq":
        token = sys.argv[5]
        s = requests.Session()
        s.headers.update({"Authorization": "Token " + token, "Accept": "application/json"})

        def call(i):
            r = s.get(base + "/api/v1/submissions/" + i + "/")
            r.raise_for_status()
            assert r.json()["id"]

        call(ids[0])
        t0 = time.perf_counter()
        for i in work:
            call(i)
        print("%.6f" % (time.perf_counter() - t0))
    elif mode == "conc":
        c, token = int(sys.argv[5]), sys.argv[6]
        local = threading.local()

        def call(i):
            s = getattr(local, "s", None)
            if s is None:
                s = local.s = requests.Session()
                s.headers.update({"Authorization": "Token " + token,
                                  "Accept": "application/json"})
            r = s.get(base + "/api/v1/submissions/" + i + "/")
            r.raise_for_status()
            return r.json()["id"]

        with ThreadPoolExecutor(max_workers=c) as pool:
            list(pool.map(call, ids[:c * 4]))
            t0 = time.perf_counter()
            out = list(pool.map(call, work))
            dt = time.perf_counter() - t0
        assert len(out) == n and all(out)
        print("%.6f" % dt)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
