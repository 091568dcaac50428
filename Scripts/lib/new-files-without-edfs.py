#!/usr/bin/env python3
"""What a small-file put asks of the nodes' file system, without edfs: NODES processes (one per node), each making
FILES new files of SIZE bytes in a new folder of its own under DIR, every file written to a temporary name, fsynced
and renamed into place on THREADS threads, then one fsync of the folder (a node's manifest write and its grouped
folder flush, docs/STORAGE.md). The caller times it; the files stay until the caller removes DIR.

    Scripts/lib/new-files-without-edfs.py DIR NODES FILES SIZE THREADS
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Process


def write_one(folder: str, index: int, payload: bytes) -> None:
    temporary = os.path.join(folder, f".tmp-{index}")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temporary, os.path.join(folder, f"m{index:06d}"))


def one_node(folder: str, files: int, size: int, threads: int) -> None:
    payload = os.urandom(size)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in [pool.submit(write_one, folder, i, payload) for i in range(files)]:
            result.result()
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> None:
    if len(sys.argv) != 6:
        sys.exit("usage: new-files-without-edfs.py DIR NODES FILES SIZE THREADS")
    root = sys.argv[1]
    nodes, files, size, threads = (int(a) for a in sys.argv[2:])
    folders = [os.path.join(root, f"node{n}") for n in range(nodes)]
    for folder in folders:
        os.makedirs(folder)
    workers = [Process(target=one_node, args=(folder, files, size, threads)) for folder in folders]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        sys.exit(f"new-files-without-edfs: {len(failed)} of {nodes} writers failed")


if __name__ == "__main__":
    main()
