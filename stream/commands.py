"""What each ``harstream`` command does; ``cli.py`` parses the command line and calls these."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .core.catalog import default_model, resolve_model, shipped_models
from .core.placement import PLACEMENTS


class UsageError(Exception):
    """A problem the user can fix; printed as one line."""


def load_model(path):
    from .core.model import Model

    return Model(resolve_model(path))


def cmd_evaluate(args) -> int:
    from .core.metrics import format_table, scores
    from .datasets import scored_windows

    model = load_model(args.model)
    test = scored_windows(args.data, args.subjects).for_labels(model.info.labels)  # jogging for a model with RUNNING
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
    result.update(model=str(model.path), data=test.source, runtime=model.backend, subjects=args.subjects)
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

    if not 0.0 <= args.time_filter < 1.0:
        raise UsageError(f"--time-filter {args.time_filter}: from 0 (off) up to, not including, 1")
    model = load_model(args.model)
    rec = load_recording(args.recording, args.data)
    info = model.info
    for warning in check_recording(rec, info.sample_rate_hz, info.window):  # the daemon's rules, said before the labels
        print(f"harstream: warning: {rec.name}: {warning}", file=sys.stderr)
    if args.plot:  # before the labels, not after them
        from .adapters.timeline import plotting_available

        if not plotting_available():
            raise UsageError("--plot needs matplotlib: pip install 'harstream[plot]'")
    from .core.scoring import StreamScore

    recognizer = Recognizer(model, smoothing=args.smoothing, placement_for=lambda device: args.placement, stay=args.time_filter)
    labels, score = [], StreamScore()
    for lo in range(0, len(rec), args.chunk):
        for label in recognizer.feed(args.device, rec.t[lo:lo + args.chunk], rec.raw[lo:lo + args.chunk]):
            labels.append(label)
            truth = window_truth(rec, label.start, label.end)
            score.add(label.activity, truth)
            if args.json:
                print(json.dumps({**label.to_dict(), "truth": truth}))
            else:
                where = f"  [{label.placement or 'placement not yet known'}]" if info.placements else ""
                print(f"{label.seq:5d} {label.start:9.2f}-{label.end:9.2f} s  {label.activity:<19} {label.confidence:.3f}  {truth}{where}")
    if not labels:  # check_recording lets through only what makes a window, but gaps can cut it into pieces too short
        raise UsageError(f"{rec.name}: no {info.window}-sample stretch without a gap of over 1 s: no labels")
    summary = score.summary()
    if summary["scored"]:  # the recording has ground truth: how well it did
        if args.json:
            print(json.dumps({"summary": {k: v for k, v in summary.items()}, "model": model.name, "recording": rec.name}))
        else:
            print(score.describe())
    if args.plot:
        from .adapters.timeline import plot

        title = f"{rec.name}: {model.name}, {len(labels)} labels" + (f", accuracy {summary['accuracy'] * 100:.1f}%" if summary["scored"] else "")
        try:
            plot(labels, rec, list(recognizer.labels), args.plot, title)
        except (RuntimeError, OSError) as exc:
            raise UsageError(f"--plot {args.plot}: {exc}") from None
        print(f"harstream: wrote {args.plot}", file=sys.stderr)
    return 0


def _settings(args, names):
    from .adapters import config

    flags = {name: getattr(args, name, None) for name in names}
    return config.load(getattr(args, "config", None), flags=flags)


#: The settings of an MQTT connection: every command that connects takes them as flags.
MQTT_SETTINGS = ["broker", "client_id", "prefix", "qos", "username", "password_file", "ca", "cert", "key", "insecure", "keepalive"]


def cmd_serve(args) -> int:
    import logging

    from .adapters import config
    from .adapters.mqtt import FatalError, serve

    settings = _settings(args, config.flag_names())
    if args.check:  # what a service would run with, checked, without connecting anywhere
        model = load_model(settings.model)
        print(config.effective(settings), end="")
        print(f"# settings valid; model {model.name} ({model.path}), {len(model.info.labels)} labels, runtime {model.backend}",
              file=sys.stderr)
        return 0
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
    settings = _settings(args, MQTT_SETTINGS + ["amqp", "partitions", "sensor_logger_topic"])
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

    settings = _settings(args, MQTT_SETTINGS)
    specs = list(args.recording) + [str(n) for n in args.experiment or []]
    if not specs:
        raise UsageError("name a recording (CSV, or a HAPT acc_expEE_userUU.txt) or --data ZIP --experiment N")
    if args.experiment and args.data is None:
        from .datasets import default_data_path

        args.data = default_data_path()
    recordings = [load_recording(spec, args.data) for spec in specs]
    from .core.recording import check_recording

    for rec in recordings:  # the reasons predict gives, before anything is sent
        for warning in check_recording(rec):
            print(f"harstream: warning: {rec.name}: {warning}", file=sys.stderr)
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


def _client(args, role: str):
    """A connected MQTT client for a command that only listens."""
    from .adapters.mqtt import make_client

    settings = _settings(args, MQTT_SETTINGS)
    client = make_client(settings, f"harstream-{role}-{__import__('secrets').token_hex(3)}")
    connect(client, settings)
    client.loop_start()
    return client, settings


def cmd_watch(args) -> int:
    from .adapters.watch import watch

    client, settings = _client(args, "watch")
    try:
        watch(client, settings, args.device, args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


def cmd_record(args) -> int:
    from .adapters.record import record
    from .core.activities import ALL_LABELS

    if args.label and args.label not in ALL_LABELS:
        raise UsageError(f"--label {args.label}: one of {', '.join(ALL_LABELS)}")
    client, settings = _client(args, "record")
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            try:
                written = record(client, settings, args.device, out, args.label or "", args.seconds, args.samples)
            except KeyboardInterrupt:
                written = None
    except OSError as exc:
        raise UsageError(f"{args.out}: {exc.strerror}") from None
    finally:
        client.disconnect()
        client.loop_stop()
    print(f"harstream: wrote {args.out}" + ("" if written is None else f" ({written} samples)"), file=sys.stderr)
    return 0


def cmd_demo(args) -> int:
    from .adapters.demo import run

    import importlib.util

    web = not args.no_web and importlib.util.find_spec("aiohttp") is not None  # the live page when the web extra is there
    result = run(load_model(args.model), speed=args.speed, broker_kind=args.broker, fmt=args.format, recording=args.recording, web=web)
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


#: The accuracy keys of models' metadata, as ``harstream models`` names them.
_SCORED = {"test": "HAPT test (waist)", "hapt_test": "HAPT test (waist)", "held_out": "MotionSense scored (pocket)",
           "motionsense_scored": "MotionSense scored (pocket)", "running": "jogging as RUNNING"}


def cmd_models(args) -> int:
    from .core.catalog import describe

    default = default_model().resolve()
    found = {name: path for name, path in shipped_models().items()}
    local = Path("models")
    if local.is_dir():  # a checkout's or a user's own folder of models, beside the shipped ones
        found.update({f"models/{p.name}": p for p in sorted(local.glob("*.tflite")) if p.resolve() not in {q.resolve() for q in found.values()}})
    rows = [{**describe(path), "default": path.resolve() == default, "shipped": not name.startswith("models/")} for name, path in found.items()]
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        acc = r.get("accuracy", {})
        scores = ", ".join(f"{_SCORED.get(k, k)} {v * 100:.1f}%" for k, v in acc.items() if isinstance(v, float) and 0 < v <= 1 and k != "validation")
        print(f"{'*' if r['default'] else ' '} {r['name']:<28} {r.get('bytes', 0) / 1024:6.1f} KB  "
              f"{', '.join(r.get('placements') or ['waist'])}; {len(r.get('labels', []))} labels"
              + (f" (+ UNKNOWN below {r['unknown_threshold']:.2f}" + (", or unlike all it learnt" if r.get("unknown_when_far") else "") + ")"
                 if r.get("unknown_threshold") else "") + (f"; {scores}" if scores else ""))
    print("* the default; --model NAME takes any of these names", file=sys.stderr)
    return 0


def cmd_download(args) -> int:
    from .datasets.download import download

    path = download(args.dataset, cache=args.cache, url=args.url, sha256=args.sha256, quiet=args.quiet)
    print(path)
    return 0
