"""A model trained on a single-record CSV (timestamp, source_ip, destination_ip, protocol, packet_size,
bytes_sent, bytes_received, flag, is_anomaly) gives the same score for a row through the Check page's API as
through ``netwarden model predict`` — ICMP rows with a flag among them."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from click.testing import CliRunner

from netwarden.cli import cli

COLUMNS = ["timestamp", "source_ip", "destination_ip", "protocol", "packet_size", "bytes_sent", "bytes_received",
           "flag", "is_anomaly"]


def _rows(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        bad = rng.random() < 0.2
        protocol = rng.choice(["TCP", "UDP", "ICMP"])
        rows.append({
            "timestamp": f"2026-11-{1 + i % 28:02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00",
            "source_ip": f"192.168.{rng.randrange(4)}.{rng.randrange(1, 250)}" if not bad
            else f"45.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 250)}",
            "destination_ip": f"10.0.0.{rng.randrange(1, 50)}",
            "protocol": protocol,
            "packet_size": rng.randrange(1000, 1500) if bad else rng.randrange(64, 600),
            "bytes_sent": rng.randrange(50_000, 90_000) if bad else rng.randrange(100, 5_000),
            "bytes_received": rng.randrange(0, 500) if bad else rng.randrange(100, 20_000),
            "flag": rng.choice(["SYN", "ACK", "FIN", "RST"] if not bad else ["SYN", "URG", "PSH"]),
            "is_anomaly": int(bad)})
    return rows


def test_check_scores_like_model_predict(sqlite_web, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "traffic.csv"
    rows = _rows(600)
    with data.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    url = str(sqlite_web.db.engine.url)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--db", url, "model", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("train", "--data", str(data), "-a", "random_forest", "-p", "n_estimators=30", "--name", "traffic")
    run("activate", "traffic:1")
    predicted = [json.loads(line) for line in run("predict", "traffic:1", "--data", str(data), "--all",
                                                   "--json").splitlines() if line.startswith("{")]
    assert len(predicted) == len(rows)

    analyst = sqlite_web.client("analyst")
    picked = [i for i, r in enumerate(rows) if r["protocol"] == "ICMP"][:4] + \
        [i for i, r in enumerate(rows) if r["is_anomaly"]][:4] + [i for i, r in enumerate(rows) if not r["is_anomaly"]][:4]
    for i in picked:
        row = rows[i]
        answer = analyst.post("/api/v1/check", json={"connection": {
            "src_ip": row["source_ip"], "dst_ip": row["destination_ip"], "protocol": row["protocol"].lower(),
            "packet_size": row["packet_size"], "bytes_out": row["bytes_sent"], "bytes_in": row["bytes_received"],
            "tcp_flags": row["flag"]}})
        assert answer.status_code == 200, answer.text
        models = answer.json()["models"]
        assert models and abs(models[0]["score"] - predicted[i]["score"]) < 1e-6, (i, row, models, predicted[i])
