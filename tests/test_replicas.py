"""Replicas behind a real RabbitMQ (started by the tests on free ports): every device pinned to one
replica, partitions spread fairly, failover after SIGKILL or a hang with the stated loss only."""
from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections import defaultdict

import pytest
from harstream.adapters.amqp.node import RabbitMQ, server_folder
from harstream.adapters.brokers import free_port

from benchmarks import clients
from benchmarks.fleet import Fleet, Phones

RATE, WINDOW, STEP = 50.0, 128, 64


@pytest.fixture(scope="module")
def rabbit():
    if server_folder() is None:
        pytest.fail("rabbitmq-server is not installed: apt-get install rabbitmq-server (.ci/run does this)")
    with RabbitMQ() as node:
        yield node


@pytest.fixture
def fleet(rabbit, request, tmp_path):
    made = []

    def factory(prefix: str, **kwargs):
        f = Fleet(rabbit, prefix, folder=tmp_path, **kwargs)
        made.append(f)
        return f

    yield factory
    for f in made:
        f.stop()


def labels_by_device(collector) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for _, payload, _ in collector.take(10**9, timeout=0.5, where=lambda t: t.endswith("/activity")):
        label = json.loads(payload)
        found[label["device"]].append(label)
    return found


def check_continuity(found: dict[str, list[dict]], max_gap_samples: int) -> dict[str, float]:
    """Per device, labels in order, none twice, and where a device moved (a new window that shares no
    reading with the last one) no more lost than ``max_gap_samples``; returns each move's gap in samples."""
    moves = {}
    for device, labels in found.items():
        starts = [(l["start"], l["end"]) for l in labels]
        assert len(set(starts)) == len(starts), f"{device}: a label published twice"
        for (s0, e0), (s1, e1) in zip(starts, starts[1:]):
            assert s1 > s0, f"{device}: labels out of order ({s0} then {s1})"
            if abs((s1 - s0) - STEP / RATE) < 1e-6:
                continue  # the same replica, the next window
            assert s1 > e0, f"{device}: a window from {s1} shares readings with the label up to {e0}: processed twice"
            gap = (s1 - e0) * RATE - 1
            assert gap <= max_gap_samples, f"{device}: {gap:.0f} readings lost when it moved"
            moves[device] = gap
    return moves


def test_partitions_spread_over_2_3_4_replicas_and_back(fleet):
    f = fleet("spread")
    f.start(2)
    f.wait_spread([6, 6], timeout=40)
    f.start(1)
    f.wait_spread([4, 4, 4])
    f.start(1)
    f.wait_spread([3, 3, 3, 3])
    f.signal(f.alive()[0], signal.SIGKILL)  # its 3 go to the others, and stay balanced
    f.wait_spread([4, 4, 4])
    quitting = f.alive()[0]
    quitting.terminate()  # a clean stop hands its partitions over too
    quitting.wait(20)
    f.wait_spread([6, 6])


def test_a_killed_replica_loses_at_most_each_devices_window_in_progress(fleet, rabbit, recording):
    f = fleet("kill")
    f.start(3)
    f.wait_spread([4, 4, 4], timeout=40)
    labels = clients.Collector(rabbit.mqtt_port, ["kill/+/activity"], "kill-labels")
    phones = Phones(rabbit.mqtt_port, "kill", recording.raw, devices=50).start()
    rogue = clients.publisher(rabbit.mqtt_port, "kill-rogue")
    for payload in (b"{not json", b'{"t": "soon"}', b"\xff" * 50):  # one device's garbage costs only its messages
        rogue.publish("kill/phone07/imu", payload, qos=1).wait_for_publish(5)
    time.sleep(8)
    victim = max(f.alive(), key=lambda p: len(f.held(p)))
    f.signal(victim, signal.SIGKILL)
    time.sleep(8)
    phones.stop()
    time.sleep(3)
    clients.close(rogue)
    found = labels_by_device(labels)
    labels.close()
    status = clients.Collector(rabbit.mqtt_port, ["kill/status"], "kill-status").take(1, 10)
    assert status and status[0][1:] == (b"online", True), "the victim's last will is answered by the survivors"
    assert set(found) == set(phones.sent), "every device labelled"
    # lost per move: what the victim took after its last label's window (under a hop, 64 readings), and what a
    # survivor took before passing the partition on at once to another with room (here 21-26 in all)
    moves = check_continuity(found, max_gap_samples=STEP + 16)
    assert moves, "the killed replica's devices moved"
    end = max(l["end"] for ls in found.values() for l in ls)
    for device, ls in found.items():  # every device, moved or not, labelled to the end
        assert ls[-1]["end"] > end - 3 * STEP / RATE, f"{device} stopped being labelled at {ls[-1]['end']}"
    time.sleep(1)  # the survivors' stats after the last label
    survivors = [f.stats[f.by_pid[p.pid]] for p in f.alive()]
    assert sorted(len(s["replica"]["partitions"]) for s in survivors) == [6, 6]
    assert sum(s["replica"]["acquired"] for s in survivors) >= 8 + 4, "their own 4 each, and the victim's 4"
    assert sum(sum(s["rejects"].values()) for s in f.stats.values()) == 3, "the garbage, counted by whoever held phone07"


def test_a_hung_replica_is_replaced_and_labels_nothing_twice_when_it_wakes(fleet, rabbit, recording):
    f = fleet("hang", env={"HARSTREAM_AMQP_HEARTBEAT": "2"})
    f.start(2)
    f.wait_spread([6, 6], timeout=40)
    labels = clients.Collector(rabbit.mqtt_port, ["hang/+/activity"], "hang-labels")
    phones = Phones(rabbit.mqtt_port, "hang", recording.raw, devices=20).start()
    time.sleep(6)
    sleeper, other = f.alive()
    f.signal(sleeper, signal.SIGSTOP)
    t0 = time.monotonic()
    while len(f.held(other)) < 12 and time.monotonic() - t0 < 30:
        time.sleep(0.1)
    took = time.monotonic() - t0
    assert len(f.held(other)) == 12, "the hung replica's partitions moved"
    time.sleep(2)
    f.signal(sleeper, signal.SIGCONT)  # it finds its connection closed, drops what it held, and rejoins
    f.wait_spread([6, 6], timeout=30)
    time.sleep(3)
    phones.stop()
    time.sleep(3)
    found = labels_by_device(labels)
    labels.close()
    assert set(found) == set(phones.sent)
    check_continuity(found, max_gap_samples=int(took * RATE) + 2 * WINDOW)


def test_a_user_with_the_printed_permissions_runs_replicas(fleet, rabbit, recording):
    """The permissions rabbitmq-setup prints (and the README shows) are enough, for AMQP and MQTT alike."""
    from harstream.adapters.amqp.topology import PERMISSIONS

    rabbit.ctl("add_user", "replica-user", "s3cret")
    rabbit.ctl("set_permissions", "-p", "/", "replica-user", *PERMISSIONS)
    f = fleet("perm", env={"HARSTREAM_PASSWORD": "s3cret"}, extra=("--username", "replica-user"))
    port = free_port()
    first = f.start(1, extra=("--metrics-port", str(port)))[0]
    f.wait_spread([12], timeout=40)
    f.start(1)
    f.wait_spread([6, 6], timeout=40)
    labels = clients.Collector(rabbit.mqtt_port, ["perm/+/activity"], "perm-labels")
    phones = Phones(rabbit.mqtt_port, "perm", recording.raw, devices=4).start()
    time.sleep(4)
    phones.stop()
    found = labels_by_device(labels)
    labels.close()
    assert set(found) == set(phones.sent)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    said = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("harstream_replica_"))
    assert float(said["harstream_replica_partitions"]) == len(f.held(first)) == 6
    assert float(said["harstream_replica_released_total"]) == 6 and float(said["harstream_replica_acquired_total"]) == 12


def test_rabbitmq_setup_declares_once_and_refuses_a_mismatch(rabbit):
    from test_cli import harstream, one_line_error

    first = harstream("rabbitmq-setup", "--amqp", rabbit.amqp_url, "--prefix", "setup", "--partitions", "4").stdout
    assert "4 quorum queues harstream.setup.p00 .. harstream.setup.p03" in first
    assert "a replica's user needs: rabbitmqctl set_permissions -p / guest '^(harstream" in first
    assert harstream("rabbitmq-setup", "--amqp", rabbit.amqp_url, "--prefix", "setup", "--partitions", "4").stdout == first
    queues = rabbit.ctl("list_queues", "name", "type", "arguments", "--quiet")
    assert sum("harstream.setup.p0" in line and "quorum" in line and "x-single-active-consumer" in line
               for line in queues.splitlines()) == 4
    error = one_line_error(harstream("rabbitmq-setup", "--amqp", rabbit.amqp_url, "--prefix", "setup", "--partitions", "3",
                                     check=False))
    assert "harstream.setup.p03 exists" in error and "--partitions" in error


def test_serve_amqp_refuses_bad_settings_in_one_line(rabbit):
    from test_cli import harstream, one_line_error

    assert "amqp://HOST" in one_line_error(harstream("serve", "--amqp", "http://x", check=False))
    assert "not in the amqp URL" in one_line_error(harstream("serve", "--amqp", "amqp://u:secret@x", check=False))
    assert "partitions 0" in one_line_error(harstream("serve", "--amqp", rabbit.amqp_url, "--partitions", "0", check=False))
    assert "rabbitmq-setup: give the broker" in one_line_error(harstream("rabbitmq-setup", check=False))
    closed = f"amqp://127.0.0.1:{free_port()}"
    assert "cannot connect (Connection refused)" in one_line_error(
        harstream("serve", "--amqp", closed, "--connect-timeout", "0", "--model", "models/lstm.tflite", check=False))
    assert "cannot declare (Connection refused)" in one_line_error(harstream("rabbitmq-setup", "--amqp", closed, check=False))


def test_a_partition_queue_deleted_under_a_replica_is_declared_again(fleet, rabbit):
    f = fleet("deleted")
    f.start(1)
    f.wait_spread([12], timeout=40)
    rabbit.ctl("delete_queue", "harstream.deleted.p03")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "harstream.deleted.p03" not in rabbit.ctl("list_queues", "name", "--quiet"):
        time.sleep(0.5)
    assert "harstream.deleted.p03" in rabbit.ctl("list_queues", "name", "--quiet")
    time.sleep(1.5)  # stats from after the reconnection
    f.wait_spread([12], timeout=20)


def test_garbage_on_the_presence_exchange_disturbs_no_replica(fleet, rabbit, recording):
    import pika

    f = fleet("noise")
    f.start(2)
    f.wait_spread([6, 6], timeout=40)
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.amqp_url))
    channel = conn.channel()
    for body in (b"{", b"\xff\xfe", b"[]", b'{"replica": 5}', b'{"replica": "x", "held": "many"}', b'{"held": 3}'):
        channel.basic_publish("harstream.noise.replicas", "", body)
    conn.close()
    labels = clients.Collector(rabbit.mqtt_port, ["noise/+/activity"], "noise-labels")
    phones = Phones(rabbit.mqtt_port, "noise", recording.raw, devices=4).start()
    time.sleep(4)
    phones.stop()
    found = labels_by_device(labels)
    labels.close()
    assert len(f.alive()) == 2 and set(found) == set(phones.sent)
    time.sleep(1)
    assert f.spread() == [6, 6]
    for log in f.folder.glob("replica-noise-*.log"):  # not even a reconnection
        text = log.read_text()
        assert "Traceback" not in text and "lost the connection" not in text, text[-2000:]


def test_a_moved_device_keeps_its_placement_belief(fleet, rabbit, recording):
    """A clean stop hands each device's placement belief and time filter to its next replica: the first label
    after the move already knows where the phone is worn (a fresh belief needs two windows)."""
    f = fleet("carry", model="models/anywhere.tflite")
    f.start(2)
    f.wait_spread([6, 6], timeout=40)
    labels = clients.Collector(rabbit.mqtt_port, ["carry/+/activity"], "carry-labels")
    phones = Phones(rabbit.mqtt_port, "carry", recording.raw, devices=16).start()
    time.sleep(12)
    leaving = f.alive()[0]
    leaving.terminate()
    leaving.wait(20)
    time.sleep(8)
    phones.stop()
    time.sleep(3)
    found = labels_by_device(labels)
    labels.close()
    firsts = []
    for device, ls in found.items():
        for before, after in zip(ls, ls[1:]):
            if after["start"] > before["end"] and before["placement"] is not None:  # moved, its placement known by then
                firsts.append(after)  # its first label on the other replica
    assert firsts, "some of the leaving replica's devices moved with their placement known"
    assert all(label["placement"] is not None for label in firsts), [(l["device"], l["placement"]) for l in firsts]
    time.sleep(1)
    [survivor] = [f.stats[f.by_pid[p.pid]] for p in f.alive()]
    assert survivor["replica"]["devices_carried_over"] >= len(firsts)
