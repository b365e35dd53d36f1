"""A Spark Connect server on a free loopback port, for one local pipeline run.

``spark-pipelines --remote local[*]`` starts its own server on the fixed port 15002, so
two runs on one machine (two checkouts, a test and a benchmark) collide. gold_local.py
starts this instead: the port is picked by the OS, written to ``--port-file`` once the
server listens, and the server lives until its standard input closes or it gets SIGTERM.

    python connect_server.py --port-file work/connect.port < /dev/tty
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession


def _listening_port(spark: SparkSession) -> int:
    """The port the Connect service bound (binding.port 0 lets the OS choose)."""
    service = getattr(spark._jvm, "org.apache.spark.sql.connect.service.SparkConnectService$")
    return int(getattr(service, "MODULE$").localPort())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    spark = (
        SparkSession.builder.master(args.master)
        .appName("insightloop-gold-local")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", "0")
        .getOrCreate()
    )
    try:
        written = args.port_file.with_suffix(".tmp")
        written.write_text(str(_listening_port(spark)))
        os.replace(written, args.port_file)  # the reader never sees a half-written port
        # The parent holds our stdin open for the run; EOF means it is gone.
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        stop.wait()
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
