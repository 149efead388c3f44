"""The load generator process: locust as a library, in a process of its own (locust monkey-patches the
standard
library with gevent on import, which must not happen inside the rag-harden process).

Usage:
  python -m bench.load.worker JOB.json SAMPLES.jsonl                 a local runner
  python -m bench.load.worker JOB.json SAMPLES.jsonl --workers N     a locust master and N worker processes
  python -m bench.load.worker JOB.json SAMPLES.jsonl --worker I N PORT   (started by the master)

Open loop: a user runs a dispatcher that spawns a greenlet per scheduled arrival at its scheduled time, so a
slow
response never delays the next send; latency is measured from the scheduled time (no coordinated omission).
With
N workers, worker I sends the arrivals whose index is I modulo N, against one wall-clock start shared by all.
Closed loop: locust users sending back to back; the master spreads them over the workers. Every request is
also
reported through locust's request event, so locust's own (merged) stats stay meaningful.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402
from locust import FastHttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from harness.serving.sse import DONE as SSE_DONE  # noqa: E402  (standard library only)
from harness.serving.sse import iter_sse  # noqa: E402

JOB: dict = json.loads(open(sys.argv[1]).read())
OUT = open(sys.argv[2], "w")
ROLE: dict = {"index": 0, "of": 1, "runner": None}
COUNT = {"sent": 0}
FINISHED = (
    Event()
)  # set when every open-loop request of this process (or, on the master, of all workers) has ended


def now() -> float:
    """Seconds since the run's shared wall-clock start."""
    return time.time() - JOB["t0_wall"]


def body_for(index: int) -> dict:
    question = JOB["questions"][index % len(JOB["questions"])]
    if JOB["request"] in ("chat", "chat_stream"):
        return {
            "model": "rag-harden",
            "messages": [{"role": "user", "content": question}],
            "stream": JOB["request"] == "chat_stream",
        }
    text = json.dumps(JOB["template"]).replace("{question}", json.dumps(question)[1:-1])
    return json.loads(text)


def answer_of(payload: dict) -> str | None:
    if JOB["request"] == "chat":
        return payload["choices"][0]["message"]["content"]
    value = payload
    for part in JOB["answer_field"].split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value if isinstance(value, str) else json.dumps(value)


def send(client, index: int, scheduled: float) -> None:
    early = scheduled - now()
    if early > 0:  # gevent timers run on the loop's cached clock and can fire a little early
        gevent.sleep(early)
    start = now()
    if JOB["request"] == "chat_stream":
        return send_streaming(client, index, scheduled, start)
    status, error, answer = 0, None, None
    with client.post(
        JOB["path"], json=body_for(index), headers=HEADERS, catch_response=True, name=JOB["path"]
    ) as response:
        status = response.status_code or 0
        if status == 200:
            try:
                answer = answer_of(response.json())
                response.success()
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                error = f"bad response body: {exc}"
                response.failure(error)
        else:
            error = f"HTTP {status}" if status else f"transport error: {response.error}"
            response.failure(error)
    write_record(index, scheduled, start, status, error, answer=answer)


def write_record(index: int, scheduled: float, start: float, status: int, error: str | None, **extra) -> None:
    """One request's line of the worker's output (a RequestRecord), ended now."""
    record = {"index": index, "scheduled_s": scheduled, "start_s": start, "end_s": now(), **extra}
    OUT.write(json.dumps({**record, "status": status, "ok": error is None, "error": error}) + "\n")
    OUT.flush()


def send_streaming(client, index: int, scheduled: float, start: float) -> None:
    """A streamed chat completion: time to first token is when the first content delta arrives."""
    status, error, parts, stamps = 0, None, [], []
    with client.post(
        JOB["path"], json=body_for(index), headers=HEADERS, catch_response=True, name=JOB["path"], stream=True
    ) as response:
        status = response.status_code or 0
        if status != 200:
            error = f"HTTP {status}" if status else f"transport error: {response.error}"
            response.failure(error)
        else:
            try:
                for data in iter_sse(iter(lambda: response.stream.read(4096), b"")):
                    if data == SSE_DONE:
                        continue
                    choices = json.loads(data)["choices"]
                    delta = choices[0]["delta"].get("content") if choices else None  # usage chunk: no choices
                    if delta:
                        stamps.append(now())
                        parts.append(delta)
                response.success()
            except (ValueError, KeyError, IndexError) as exc:
                error = f"bad stream: {exc}"
                response.failure(error)
    write_record(
        index,
        scheduled,
        start,
        status,
        error,
        ttft_s=stamps[0] if stamps else None,
        itl_s=[b - a for a, b in zip(stamps, stamps[1:], strict=False)],
        answer="".join(parts) if error is None else None,
    )


def open_loop(client) -> None:
    """Send this worker's share of the schedule and wait for every response (or its timeout), then say so."""
    mine = [(i, at) for i, at in enumerate(JOB["schedule"]) if i % ROLE["of"] == ROLE["index"]]
    greenlets = [gevent.spawn_later(max(at - now(), 0.0), send, client, i, at) for i, at in mine]
    gevent.joinall(greenlets, timeout=max(_last_arrival() - now(), 0) + JOB["timeout_s"] + 5)
    FINISHED.set()
    if ROLE["runner"] is not None and ROLE["of"] > 1:
        ROLE["runner"].send_message("open_loop_done", ROLE["index"])


def _last_arrival() -> float:
    return JOB["schedule"][-1] if JOB["schedule"] else 0.0


def _auth_headers() -> dict:
    """The bearer token, read here from the variable the job names (the job file holds only the name)."""
    name = JOB.get("api_key_env")
    token = os.environ.get(name, "") if name else ""
    return {"Authorization": f"Bearer {token}"} if token else {}


HEADERS = _auth_headers()


class LoadUser(FastHttpUser):
    host = JOB["target"]
    network_timeout = JOB["timeout_s"]
    connection_timeout = JOB["timeout_s"]
    concurrency = 512
    wait_time = constant(0)

    @task
    def send_load(self) -> None:
        if JOB["model"] == "open":
            if not COUNT.get("dispatched"):
                COUNT["dispatched"] = True
                open_loop(self.client)
            gevent.sleep(0.1)
            return
        if COUNT["sent"] >= JOB["max_requests"] // ROLE["of"]:
            gevent.sleep(0.05)
            return
        COUNT["sent"] += 1
        send(self.client, COUNT["sent"] * ROLE["of"] + ROLE["index"], now())


def drive(runner, n_users_open: int) -> None:
    """Start the users when the shared clock says so, run the stages, stop."""
    gevent.sleep(max(-now(), 0.0))
    if JOB["model"] == "open":
        runner.start(n_users_open, spawn_rate=n_users_open)
        FINISHED.wait(timeout=max(_last_arrival() - now(), 0) + JOB["timeout_s"] + 10)  # joined, not slept
    else:
        for stage in JOB["stages"]:
            runner.start(stage["users"], spawn_rate=max(stage["users"], 1))
            gevent.sleep(stage["duration_s"])
    runner.stop()


def main() -> None:
    args = sys.argv[3:]
    env = Environment(user_classes=[LoadUser], host=JOB["target"])
    if args[:1] == ["--worker"]:
        ROLE["index"], ROLE["of"] = int(args[1]), int(args[2])
        worker = env.create_worker_runner("127.0.0.1", int(args[3]))
        ROLE["runner"] = worker
        worker.register_message("t0", lambda msg, **_kw: JOB.__setitem__("t0_wall", float(msg.data)))
        worker.greenlet.join()
        OUT.close()
        return
    if args[:1] == ["--workers"]:
        n = int(args[1])
        runner = env.create_master_runner("127.0.0.1", 0)
        port = runner.server.port
        finished: set[int] = set()

        def on_done(msg, **_kw) -> None:
            finished.add(int(msg.data))
            if len(finished) == n:
                FINISHED.set()

        runner.register_message("open_loop_done", on_done)
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.load.worker",
                    sys.argv[1],
                    f"{sys.argv[2]}.{i}",
                    "--worker",
                    str(i),
                    str(n),
                    str(port),
                ]
            )
            for i in range(n)
        ]
        deadline = time.time() + 30
        while len(runner.clients.ready) < n and time.time() < deadline:
            gevent.sleep(0.1)
        if len(runner.clients.ready) < n:
            raise SystemExit(f"only {len(runner.clients.ready)} of {n} locust workers connected")
        JOB["t0_wall"] = time.time() + 1.0  # the shared start, now that every process is up
        runner.send_message("t0", JOB["t0_wall"])
        drive(runner, n)
        runner.quit()
        for w in workers:
            w.wait(timeout=30)
        OUT.close()
    else:
        local = env.create_local_runner()
        JOB["t0_wall"] = time.time() + 0.2  # start once imports are done, however long they took
        drive(local, 1)
        local.quit()
        OUT.close()
    totals = env.stats.total
    print(
        json.dumps(
            {
                "locust_requests": totals.num_requests,
                "locust_failures": totals.num_failures,
                "workers": int(args[1]) if args[:1] == ["--workers"] else 0,
            }
        )
    )


if __name__ == "__main__":
    main()
