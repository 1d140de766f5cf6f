"""The ``harstream`` command."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .adapters.config import ConfigError
from .core.model import ModelError
from .core.placement import CHOICES as PLACEMENT_CHOICES
from .core.placement import PLACEMENTS
from .core.recording import RecordingError
from .datasets import DatasetError

def default_model() -> Path:
    """$HARSTREAM_MODEL, else the model that the package's ``models/DEFAULT`` names (in the checkout, or installed)."""
    import os
    from importlib import resources

    from . import models

    if os.environ.get("HARSTREAM_MODEL"):
        return Path(os.environ["HARSTREAM_MODEL"])
    folder = resources.files(models)
    default = folder / "DEFAULT"
    if not default.is_file():
        raise UsageError(f"no default model: {default} is missing (a damaged install?); pass --model")
    return Path(str(folder / (default.read_text().strip() + ".tflite")))


def load_model(path):
    from .core.model import Model

    return Model(path or default_model())


class UsageError(Exception):
    """A problem the user can fix; printed as one line."""


def add_data(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("--data", type=Path, default=None, nargs="+" if many else None,
                   help=("one or more datasets, trained on together: " if many else "")
                   + "HAPT RawData zip or folder, MotionSense zip or folder, or UCI HAR zip or folder "
                        "(default: the download cache, then ../shared/data/hapt-rawdata.zip)")


def cmd_evaluate(args) -> int:
    from .core.metrics import format_table, scores
    from .core.model import Model
    from .datasets import scored_windows

    model = Model(args.model)
    test = scored_windows(args.data, args.subjects)
    if test.X.shape[1] != model.info.window:
        raise UsageError(f"{args.model}: takes {model.info.window}-sample windows, {test.source} has {test.X.shape[1]}")
    X = test.select(model.info.channels)
    if model.info.placements:  # the dataset says where its phone was; placement unknown is scored beside it
        known = [model.info.placements.index(PLACEMENTS[p]) if PLACEMENTS[p] in model.info.placements else -1 for p in test.placement]
        probs = model.predict(X, placement=known)
        unknown = float((model.predict(X).argmax(1) == test.y).mean())
    else:
        probs, unknown = model.predict(X), None
    result = scores(test.y, probs.argmax(1), model.info.labels)
    result.update(model=str(args.model), data=test.source, runtime=model.backend, subjects=args.subjects)
    if unknown is not None:
        result["accuracy_placement_unknown"] = unknown
    if args.json:
        print(json.dumps(result))
    else:
        which = "every subject" if args.subjects == "all" else "the held-out subjects"
        print(f"{model.name} on {which} of {test.source} ({model.backend}):")
        print(format_table(result))
        if unknown is not None:
            print(f"with the placement not given: accuracy {unknown:.4f}")
    return 0


def cmd_predict(args) -> int:
    from .adapters.replay import load_recording
    from .core import Recognizer
    from .core.recording import check_recording, window_truth

    model = load_model(args.model)
    rec = load_recording(args.recording, args.data)
    info = model.info
    for warning in check_recording(rec, info.sample_rate_hz, info.window):  # the daemon's rules, said before the labels
        print(f"harstream: warning: {rec.name}: {warning}", file=sys.stderr)
    recognizer = Recognizer(model, smoothing=args.smoothing, placement_for=lambda device: args.placement)
    labels = []
    for lo in range(0, len(rec), args.chunk):
        for label in recognizer.feed(args.device, rec.t[lo:lo + args.chunk], rec.raw[lo:lo + args.chunk]):
            labels.append(label)
            truth = window_truth(rec, label.start, label.end)
            if args.json:
                print(json.dumps({**label.to_dict(), "truth": truth}))
            else:
                where = f"  [{label.placement or 'placement not yet known'}]" if info.placements else ""
                print(f"{label.seq:5d} {label.start:9.2f}-{label.end:9.2f} s  {label.activity:<19} {label.confidence:.3f}  {truth}{where}")
    if not labels:  # check_recording lets through only what makes a window, but gaps can cut it into pieces too short
        raise UsageError(f"{rec.name}: no {info.window}-sample stretch without a gap of over 1 s: no labels")
    if args.plot:
        from .adapters.timeline import plot

        try:
            plot(labels, rec, list(info.labels), args.plot, f"{rec.name}: {model.name}, {len(labels)} labels")
        except (RuntimeError, OSError) as exc:
            raise UsageError(f"--plot {args.plot}: {exc}") from None
        print(f"harstream: wrote {args.plot}", file=sys.stderr)
    return 0


def _settings(args, names):
    from .adapters import config

    flags = {name: getattr(args, name, None) for name in names}
    return config.load(getattr(args, "config", None), flags=flags)


_MQTT_FLAGS = ["broker", "client_id", "prefix", "qos", "username", "password_file", "ca", "cert", "key", "insecure", "keepalive"]


def cmd_serve(args) -> int:
    import logging

    from .adapters.mqtt import FatalError, serve

    settings = _settings(args, _MQTT_FLAGS + ["persistent", "model", "smoothing", "acc_units", "gyro_units", "frame", "placement",
                                             "sensor_logger_topic", "stats_interval", "ha_discovery", "ha_prefix", "ha_expire_after",
                                             "connect_timeout", "metrics_port", "log_level", "max_payload", "idle_timeout",
                                             "amqp", "partitions"])
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    model = load_model(settings.model)
    kind = _replica() if settings.amqp else None
    try:
        return serve(settings, model, kind) if kind else serve(settings, model)
    except FatalError as exc:
        raise UsageError(str(exc)) from None


def _replica():
    try:
        from .adapters.amqp import Replica
    except ImportError as exc:
        raise UsageError(f"--amqp needs pika: pip install 'harstream[rabbitmq]' ({exc})") from None
    return Replica


def cmd_rabbitmq_setup(args) -> int:
    settings = _settings(args, _MQTT_FLAGS + ["amqp", "partitions", "sensor_logger_topic"])
    if not settings.amqp:
        raise UsageError("rabbitmq-setup: give the broker with --amqp amqp://HOST (or amqp in the settings file)")
    _replica()
    from .adapters.amqp import TopologyError, set_up

    try:
        print("\n".join(set_up(settings)))
    except TopologyError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_replay(args) -> int:
    from .adapters.mqtt import make_client
    from .adapters.replay import load_recording, replay

    settings = _settings(args, _MQTT_FLAGS)
    specs = list(args.recording) + [str(n) for n in args.experiment or []]
    if not specs:
        raise UsageError("name a recording (CSV, or a HAPT acc_expEE_userUU.txt) or --data ZIP --experiment N")
    if args.experiment and args.data is None:
        from .datasets import default_data_path

        args.data = default_data_path()
    recordings = [load_recording(spec, args.data) for spec in specs]
    client = make_client(settings, f"harstream-replay-{args.device}"[:64])
    connect(client, settings)
    try:
        sent = replay(client, recordings, args.device, args.format, args.speed, args.batch, settings.prefix, settings.qos,
                      progress=not args.quiet and sys.stderr.isatty())
    finally:
        client.disconnect()
        client.loop_stop()
    print(f"published {sent} messages of {sum(len(r) for r in recordings)} samples as {args.device}", file=sys.stderr)
    return 0


def connect(client, settings) -> None:
    from .adapters.mqtt import FatalError, connect_or_explain

    try:
        connect_or_explain(client, settings)
    except FatalError as exc:
        raise UsageError(str(exc)) from None


def cmd_demo(args) -> int:
    from .adapters.demo import run

    result = run(load_model(args.model), speed=args.speed, broker_kind=args.broker, fmt=args.format, recording=args.recording)
    if result["labels"] < result["expected"]:
        raise UsageError(f"only {result['labels']} of {result['expected']} labels arrived")
    return 0


def cmd_export_csv(args) -> int:
    from .core.recording import Recording, write_csv
    from .datasets import default_data_path, read_hapt

    data = args.data or default_data_path()
    args.out.mkdir(parents=True, exist_ok=True)
    for rec in read_hapt(data, experiments=set(args.experiment) if args.experiment else None):
        path = args.out / f"exp{rec.experiment:02d}_user{rec.subject:02d}.csv"
        write_csv(Recording.from_dataset(rec), path)
        print(path)
    return 0


def cmd_download(args) -> int:
    from .datasets.download import download

    path = download(args.dataset, cache=args.cache, url=args.url, sha256=args.sha256, quiet=args.quiet)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="harstream", allow_abbrev=False, description="Human activity recognition from IMU streams over MQTT, on TFLite.")
    parser.add_argument("--version", action="version", version=f"harstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_plugins(sub)

    p = sub.add_parser("evaluate", allow_abbrev=False, help="accuracy of a TFLite model on held-out subjects (no TensorFlow needed)")
    p.add_argument("--model", type=Path, required=True)
    add_data(p)
    p.add_argument("--subjects", choices=["held-out", "all"], default="held-out",
                   help="held-out (default): HAPT's test subjects, MotionSense's validation subjects; all: every window "
                        "(for data no model here was trained on)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("download", allow_abbrev=False, help="fetch a UCI dataset into the cache, verified")
    p.add_argument("dataset", choices=["hapt", "uci-har"])
    p.add_argument("--cache", type=Path, default=None, help="default: $HARSTREAM_CACHE or ~/.cache/harstream")
    p.add_argument("--url", default=None, help="a mirror to fetch from instead")
    p.add_argument("--sha256", default=None, help="the archive's expected SHA-256 (none is built in: UCI publishes none; "
                                                   "without it the first download's digest is recorded and checked on later runs)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_download)
    p = sub.add_parser("predict", allow_abbrev=False, help="label a recording offline with the same core the daemon runs")
    p.add_argument("recording", help="CSV recording, HAPT acc_expEE_userUU.txt, or with --data a HAPT experiment number or a MotionSense trial like wlk_7/sub_5")
    p.add_argument("--model", type=Path, default=None, help="default: models/DEFAULT")
    add_data(p)
    p.add_argument("--json", action="store_true", help="one JSON object per window")
    p.add_argument("--device", default="recording")
    p.add_argument("--smoothing", type=int, default=1)
    p.add_argument("--placement", choices=PLACEMENT_CHOICES, default="auto",
                   help="where the phone was worn; auto (default) infers it from the recording as the daemon does")
    p.add_argument("--plot", type=Path, default=None, help="also draw the labels over time (and the truth) into this PNG (needs matplotlib)")
    p.add_argument("--chunk", type=int, default=4096, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_predict)

    from .adapters.config import Settings

    defaults = Settings()

    def default(name: str) -> str:  # flags default to None (the config file and environment may set them): say the real default
        return f"(default {getattr(defaults, name)})"

    def mqtt_flags(p):
        p.add_argument("--config", type=Path, default=None, help="TOML settings file")
        p.add_argument("--broker", help=f"mqtt://HOST[:PORT], mqtts://, ws:// or wss:// {default('broker')}")
        p.add_argument("--client-id", help="default: harstream-HOST-XXXXXX, unique at every start; give a fixed one for --persistent")
        p.add_argument("--prefix", help=f"topic prefix {default('prefix')}")
        p.add_argument("--qos", type=int, help=default("qos"))
        p.add_argument("--username", help="the password comes from HARSTREAM_PASSWORD or --password-file")
        p.add_argument("--password-file")
        p.add_argument("--ca", help="CA certificate to verify the broker")
        p.add_argument("--cert", help="client certificate")
        p.add_argument("--key", help="client key")
        p.add_argument("--insecure", action="store_true", default=None, help="do not check the broker's host name")
        p.add_argument("--keepalive", type=int, help=f"seconds {default('keepalive')}")

    def amqp_flags(p):
        p.add_argument("--amqp", help="replicas behind RabbitMQ: readings from its partition queues at amqp://HOST[:PORT][/VHOST] "
                                      "(needs the rabbitmq extra; --broker then defaults to MQTT on the same host)")
        p.add_argument("--partitions", type=int, help=f"partition queues, the same on every replica {default('partitions')}")

    p = sub.add_parser("serve", allow_abbrev=False, help="the daemon: readings in over MQTT, activity labels out")
    mqtt_flags(p)
    p.add_argument("--model", help="default: models/DEFAULT")
    p.add_argument("--persistent", action="store_true", default=None,
                   help="persistent session: the broker keeps QoS 1 readings while the daemon is away (needs --client-id)")
    p.add_argument("--smoothing", type=int, help="average probabilities over the last k windows (default 1: off)")
    p.add_argument("--acc-units", choices=["g", "m/s2"], help=default("acc_units"))
    p.add_argument("--gyro-units", choices=["rad/s", "deg/s"], help=default("gyro_units"))
    p.add_argument("--frame", choices=["android", "ios"], help=f"Sensor Logger frame for devices not configured otherwise {default('frame')}")
    p.add_argument("--placement", choices=PLACEMENT_CHOICES,
                   help="where devices not configured otherwise are worn (default auto: inferred per device)")
    p.add_argument("--sensor-logger-topic", help=default("sensor_logger_topic"))
    p.add_argument("--stats-interval", type=float, help=f"seconds between stats and housekeeping {default('stats_interval')}")
    p.add_argument("--max-payload", type=int, help=f"bytes {default('max_payload')}")
    p.add_argument("--idle-timeout", type=float, help=f"seconds before a silent device's state is freed {default('idle_timeout')}")
    p.add_argument("--connect-timeout", type=float,
                   help=f"seconds to keep trying a broker that is not up yet at start; 0 fails at once {default('connect_timeout')}")
    p.add_argument("--ha-discovery", action="store_true", default=None, help="announce devices to Home Assistant")
    p.add_argument("--ha-prefix", help=f"Home Assistant's discovery prefix {default('ha_prefix')}")
    p.add_argument("--ha-expire-after", type=int,
                   help=f"seconds without a label before Home Assistant shows a device unavailable; 0: never {default('ha_expire_after')}")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (needs the metrics extra; default off)")
    p.add_argument("--log-level", help=f"debug, info, warning or error {default('log_level')}")
    amqp_flags(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("rabbitmq-setup", allow_abbrev=False,
                       help="declare the replicas' exchanges and partition queues on RabbitMQ (serve --amqp does it too)")
    mqtt_flags(p)
    p.add_argument("--sensor-logger-topic", help=default("sensor_logger_topic"))
    amqp_flags(p)
    p.set_defaults(func=cmd_rabbitmq_setup)

    p = sub.add_parser("replay", allow_abbrev=False, help="publish recordings as a device would")
    p.add_argument("recording", nargs="*", help="CSV recordings or HAPT acc_expEE_userUU.txt files")
    mqtt_flags(p)
    p.add_argument("--device", default="replay")
    p.add_argument("--speed", type=float, default=1.0, help="1 real time, 10 ten times faster, 0 as fast as possible")
    p.add_argument("--format", choices=["json", "batch", "csv", "sensor-logger"], default="json")
    p.add_argument("--batch", type=int, default=None, help="samples per message (default 1 for json/csv, 25 otherwise)")
    add_data(p)
    p.add_argument("--experiment", type=int, action="append", help="HAPT experiment number from --data (repeatable)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("demo", allow_abbrev=False, help="broker + daemon + replay of a test subject, live labels beside the truth")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--speed", type=float, default=10.0)
    p.add_argument("--broker", choices=["auto", "mosquitto", "builtin"], default="auto")
    p.add_argument("--format", choices=["json", "batch", "csv", "sensor-logger"], default="json")
    p.add_argument("--recording", default=None, help="default: the bundled test-subject recording")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export-csv", allow_abbrev=False, help="write HAPT experiments out as CSV recordings")
    add_data(p)
    p.add_argument("--experiment", type=int, nargs="*", help="default: all")
    p.add_argument("--out", type=Path, default=Path("recordings"))
    p.set_defaults(func=cmd_export_csv)
    return parser


#: Commands that other parts of the distribution add (``harstream train`` comes from ``harstream.training``,
#: which needs TensorFlow): the runtime never imports them by name.
PLUGIN_GROUP = "harstream.commands"


def _add_plugins(sub) -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            entry.load()(sub)
        except ImportError as exc:  # e.g. the train extra is not installed: the command says so when used
            message = str(exc) if "extra" in str(exc) else f"{entry.name} needs the {entry.name!r} extra ({exc.name or exc} is missing): pip install 'harstream[{entry.name}]'"
            p = sub.add_parser(entry.name, help=f"(unavailable: {message})", add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=lambda args, message=message: _unavailable(message))


def _unavailable(message: str) -> int:
    raise UsageError(message)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, ModelError, UsageError, ConfigError, RecordingError) as exc:
        print(f"harstream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # python -m harstream.cli: run the imported module, whose classes the plugins share
    from harstream.cli import main as imported_main

    sys.exit(imported_main())
