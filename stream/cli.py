"""The ``harstream`` command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import commands
from .adapters.config import ConfigError
from .commands import MQTT_SETTINGS, UsageError, load_model  # noqa: F401  (the names plugins and scripts import from here)
from .core.catalog import default_model, resolve_model, shipped_models  # noqa: F401
from .core.model import ModelError
from .core.placement import CHOICES as PLACEMENT_CHOICES
from .core.recording import RecordingError
from .datasets import DatasetError

def add_data(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("--data", type=Path, default=None, nargs="+" if many else None,
                   help=("one or more datasets, trained on together: " if many else "")
                   + "HAPT RawData zip or folder, MotionSense zip or folder, or UCI HAR zip or folder "
                        "(default: the download cache, then ../shared/data/hapt-rawdata.zip)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="harstream", allow_abbrev=False, description="Human activity recognition from IMU streams over MQTT, on TFLite.")
    parser.add_argument("--version", action="version", version=f"harstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _add_plugins(sub)

    p = sub.add_parser("evaluate", allow_abbrev=False, help="accuracy of a TFLite model on held-out subjects (no TensorFlow needed)")
    p.add_argument("--model", default=None, help="a model file or a shipped model's name (default: models/DEFAULT)")
    add_data(p)
    p.add_argument("--subjects", choices=["held-out", "all"], default="held-out",
                   help="held-out (default): HAPT's test subjects, MotionSense's validation subjects; all: every window "
                        "(for data no model here was trained on)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=commands.cmd_evaluate)

    p = sub.add_parser("models", allow_abbrev=False, help="the shipped models (and ./models): labels, placements, size, accuracy")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p.set_defaults(func=commands.cmd_models)

    p = sub.add_parser("download", allow_abbrev=False, help="fetch a UCI dataset into the cache, verified")
    p.add_argument("dataset", choices=["hapt", "uci-har"], help="hapt: the raw waist recordings (default data of evaluate, predict); "
                                                               "uci-har: UCI HAR's fixed windows")
    p.add_argument("--cache", type=Path, default=None, help="where to keep it (default: $HARSTREAM_CACHE or ~/.cache/harstream)")
    p.add_argument("--url", default=None, help="a mirror to fetch from instead of UCI's address (http(s) or file)")
    p.add_argument("--sha256", default=None, help="the archive's expected SHA-256 (none is built in: UCI publishes none; "
                                                   "without it the first download's digest is recorded and checked on later runs)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=commands.cmd_download)
    p = sub.add_parser("predict", allow_abbrev=False, help="label a recording offline with the same core the daemon runs")
    p.add_argument("recording", help="CSV recording, HAPT acc_expEE_userUU.txt, or with --data a HAPT experiment number or a MotionSense trial like wlk_7/sub_5")
    p.add_argument("--model", default=None, help="a model file or a shipped model's name (default: models/DEFAULT)")
    add_data(p)
    p.add_argument("--json", action="store_true", help="one JSON object per window")
    p.add_argument("--device", default="recording")
    p.add_argument("--smoothing", type=int, default=1)
    p.add_argument("--time-filter", type=float, default=0.9, metavar="STAY",
                   help="the chance an activity carries on from one window to the next (default 0.9; 0: each window alone)")
    p.add_argument("--placement", choices=PLACEMENT_CHOICES, default="auto",
                   help="where the phone was worn; auto (default) infers it from the recording as the daemon does")
    p.add_argument("--plot", type=Path, default=None, help="also draw the labels over time (and the truth) into this PNG (needs matplotlib)")
    p.add_argument("--chunk", type=int, default=4096, help=argparse.SUPPRESS)
    p.set_defaults(func=commands.cmd_predict)

    from .adapters import config

    def mqtt_flags(p):
        p.add_argument("--config", type=Path, default=None, help="TOML settings file (README: Settings)")
        config.add_flags(p, MQTT_SETTINGS)

    p = sub.add_parser("serve", allow_abbrev=False, help="the daemon: readings in over MQTT, activity labels out")
    p.add_argument("--config", type=Path, default=None, help="TOML settings file (README: Settings)")
    p.add_argument("--check", action="store_true", help="print the settings in force, check them and the model, then exit")
    config.add_flags(p, config.flag_names())
    p.add_argument("--web", dest="web_port", type=int, metavar="PORT", help="the same as --web-port: the live page and the phone page")
    p.set_defaults(func=commands.cmd_serve)

    p = sub.add_parser("rabbitmq-setup", allow_abbrev=False,
                       help="declare the replicas' exchanges and partition queues on RabbitMQ (serve --amqp does it too)")
    mqtt_flags(p)
    config.add_flags(p, ["sensor_logger_topic", "amqp", "partitions"])
    p.set_defaults(func=commands.cmd_rabbitmq_setup)

    p = sub.add_parser("replay", allow_abbrev=False, help="publish recordings as a device would")
    p.add_argument("recording", nargs="*", help="CSV recordings or HAPT acc_expEE_userUU.txt files")
    mqtt_flags(p)
    p.add_argument("--device", default="replay", help="the device id to publish as: <prefix>/<device>/imu (default replay)")
    p.add_argument("--speed", type=float, default=1.0, help="1 real time (default), 10 ten times faster, 0 as fast as possible")
    p.add_argument("--format", choices=["json", "batch", "csv", "sensor-logger"], default="json",
                   help="the message format (default json: one sample a message); README, Input formats")
    p.add_argument("--batch", type=int, default=None, help="samples per message (default 1 for json/csv, 25 otherwise)")
    add_data(p)
    p.add_argument("--experiment", type=int, action="append", help="HAPT experiment number from --data (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=commands.cmd_replay)

    p = sub.add_parser("watch", allow_abbrev=False, help="live labels in the terminal: one line per device, updated in place")
    mqtt_flags(p)
    p.add_argument("--device", default=None, help="only this device (default: every device on the prefix)")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default 0: until Ctrl-C)")
    p.set_defaults(func=commands.cmd_watch)

    p = sub.add_parser("record", allow_abbrev=False, help="capture what a phone sends (any input format) into a CSV for predict and replay")
    p.add_argument("out", type=Path, help="the CSV to write")
    mqtt_flags(p)
    p.add_argument("--device", required=True, help="the device id (<prefix>/<device>/imu, or Sensor Logger's deviceId)")
    p.add_argument("--label", default=None, help="a ground-truth column, e.g. WALKING, so that predict can score the recording")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default 0: until Ctrl-C)")
    p.add_argument("--samples", type=int, default=0, help="stop after this many samples (default 0: no limit)")
    p.set_defaults(func=commands.cmd_record)

    p = sub.add_parser("demo", allow_abbrev=False, help="broker + daemon + replay of a test subject, live labels beside the truth")
    p.add_argument("--model", default=None, help="a model file or a shipped model's name (default: models/DEFAULT)")
    p.add_argument("--speed", type=float, default=10.0, help="10 ten times real time (default), 1 real time, 0 as fast as possible")
    p.add_argument("--broker", choices=["auto", "mosquitto", "builtin"], default="auto",
                   help="auto (default): Mosquitto if installed, else the built-in broker; on a free port either way")
    p.add_argument("--format", choices=["json", "batch", "csv", "sensor-logger"], default="json", help="the message format (default json)")
    p.add_argument("--recording", default=None, help="a CSV recording (default: the bundled test-subject recording)")
    p.add_argument("--no-web", action="store_true", help="no live page (it is on when the web extra is installed)")
    p.set_defaults(func=commands.cmd_demo)

    p = sub.add_parser("export-csv", allow_abbrev=False, help="write HAPT experiments out as CSV recordings")
    add_data(p)
    p.add_argument("--experiment", type=int, nargs="*", help="default: all")
    p.add_argument("--out", type=Path, default=Path("recordings"))
    p.set_defaults(func=commands.cmd_export_csv)
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
            p.set_defaults(func=lambda args, message=message: _unavailable(message), takes_anything=True)


def _unavailable(message: str) -> int:
    raise UsageError(message)


def main(argv=None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "takes_anything", False):  # an unavailable command says what to install, whatever its flags
        args = parser.parse_args(argv)  # argparse's own message for the unrecognised
    try:
        return args.func(args)
    except (DatasetError, ModelError, UsageError, ConfigError, RecordingError) as exc:
        print(f"harstream: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `harstream predict ... | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush fails silently
        return 141  # as a process killed by SIGPIPE


if __name__ == "__main__":  # python -m harstream.cli: run the imported module, whose classes the plugins share
    from harstream.cli import main as imported_main

    sys.exit(imported_main())
