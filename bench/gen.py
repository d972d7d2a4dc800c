#!/usr/bin/env python3
"""Generates the benchmark stacks: gen.py KIND DIR.

Kinds: one (also scale20: one service run with --scale s0=20), ten, tiers50 (5 tiers of 10 with depends_on), wide100, wide200, links (the seed links
stack, sh as PID 1), chatty20 (20 services printing lines), config1000 (1000 services,
only parsed)."""
import os
import sys

SVC = """  {name}:
    image: busybox:latest
    command: {command}
{extra}"""


def write(dir_, services, version=True):
    os.makedirs(dir_, exist_ok=True)
    with open(os.path.join(dir_, "docker-compose.yml"), "w") as f:
        if version:
            f.write('version: "2.4"\n')
        f.write("services:\n")
        for s in services:
            f.write(SVC.format(**s))


def plain(n, prefix="s"):
    return [dict(name=f"{prefix}{i}", command="sleep 3600", extra="    init: true\n") for i in range(n)]


def main():
    kind, dir_ = sys.argv[1], sys.argv[2]
    if kind in ("one", "scale20"):
        write(dir_, plain(1))
    elif kind == "ten":
        write(dir_, plain(10))
    elif kind == "wide100":
        write(dir_, plain(100))
    elif kind == "wide200":
        write(dir_, plain(200))
    elif kind == "tiers50":
        services = []
        for t in range(5):
            for i in range(10):
                extra = "    init: true\n"
                if t > 0:
                    extra += "    depends_on:\n" + "".join(f"      - t{t-1}s{j}\n" for j in range(10))
                services.append(dict(name=f"t{t}s{i}", command="sleep 3600", extra=extra))
        write(dir_, services)
    elif kind == "links":
        os.makedirs(dir_, exist_ok=True)
        with open(os.path.join(dir_, "docker-compose.yml"), "w") as f:
            f.write("""example:
  image: busybox:latest
  command: sh -c 'mkdir -p /www && echo hi > /www/index.html && httpd -f -p 80 -h /www'
  expose: ["80"]
receiver:
  image: busybox:latest
  command: sh -c 'sleep 3600'
  links: ["example:ex"]
""")
    elif kind == "chatty20":
        write(dir_, [dict(name=f"c{i}", command="sh -c 'seq 1 50000; sleep 3600'", extra="    init: true\n") for i in range(20)])
    elif kind == "config1000":
        write(dir_, plain(1000))
    else:
        sys.exit(f"unknown stack kind {kind}")


if __name__ == "__main__":
    main()
