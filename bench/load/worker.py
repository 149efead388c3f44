"""The load generator process: locust as a library, in a process of its own (locust monkey-patches the standard
library with gevent on import, which must not happen inside the rag-harden process).

Usage: python -m bench.load.worker JOB.json SAMPLES.jsonl

Open loop: one dispatcher greenlet spawns a greenlet per scheduled arrival, at its scheduled time, so a slow
response never delays the next send; latency is measured from the scheduled time (no coordinated omission).
Closed loop: locust users, each sending back to back; stages change the user count. Every request is also
reported through locust's request event, so locust's own stats stay meaningful.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402

JOB: dict = json.loads(open(sys.argv[1]).read())
OUT = open(sys.argv[2], "w")
T0 = 0.0
COUNT = {"sent": 0}


def body_for(index: int) -> dict:
    question = JOB["questions"][index % len(JOB["questions"])]
    if JOB["request"] == "chat":
        return {"model": "rag-harden", "messages": [{"role": "user", "content": question}]}
    text = json.dumps(JOB["template"]).replace("{question}", json.dumps(question)[1:-1])
    return json.loads(text)


def answer_of(payload: dict) -> str | None:
    if JOB["request"] == "chat":
        return payload["choices"][0]["message"]["content"]
    value = payload
    for part in JOB["answer_field"].split("."):
        value = value[part]
    return value if isinstance(value, str) else json.dumps(value)


def send(client, index: int, scheduled: float, env: Environment) -> None:
    early = scheduled - (time.monotonic() - T0)
    if early > 0:  # gevent timers run on the loop's cached clock and can fire a little early
        gevent.sleep(early)
    start = time.monotonic() - T0
    status, error, answer = 0, None, None
    with client.post(JOB["path"], json=body_for(index), catch_response=True, name=JOB["path"]) as response:
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
    end = time.monotonic() - T0
    OUT.write(json.dumps({"index": index, "scheduled_s": scheduled, "start_s": start, "end_s": end, "status": status,
                          "ok": error is None, "error": error, "answer": answer}) + "\n")


class LoadUser(FastHttpUser):
    host = JOB["target"]
    network_timeout = JOB["timeout_s"]
    connection_timeout = JOB["timeout_s"]
    concurrency = 512
    wait_time = constant(0)

    @task
    def closed_loop(self) -> None:
        if JOB["model"] != "closed" or COUNT["sent"] >= JOB["max_requests"]:
            gevent.sleep(0.05)
            return
        index = COUNT["sent"]
        COUNT["sent"] += 1
        scheduled = time.monotonic() - T0
        send(self.client, index, scheduled, self.environment)


def main() -> None:
    global T0
    env = Environment(user_classes=[LoadUser], host=JOB["target"])
    runner = env.create_local_runner()
    T0 = time.monotonic()
    if JOB["model"] == "open":
        dispatcher = LoadUser(env)
        greenlets = []
        for index, at in enumerate(JOB["schedule"]):
            delay = at - (time.monotonic() - T0)
            greenlets.append(gevent.spawn_later(max(delay, 0.0), send, dispatcher.client, index, at, env))
        gevent.joinall(greenlets, timeout=JOB["schedule"][-1] + JOB["timeout_s"] + 5 if JOB["schedule"] else 1)
    else:
        for stage in JOB["stages"]:
            runner.start(stage["users"], spawn_rate=max(stage["users"], 1))
            gevent.sleep(stage["duration_s"])
        runner.stop()
        gevent.sleep(0.1)
    runner.quit()
    OUT.close()
    totals = env.stats.total
    print(json.dumps({"locust_requests": totals.num_requests, "locust_failures": totals.num_failures}))


if __name__ == "__main__":
    main()
