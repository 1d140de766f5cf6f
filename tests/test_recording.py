import gzip

import numpy as np
import pytest
from harstream.core.recording import (
    Recording,
    RecordingError,
    read_csv,
    window_truth,
    write_csv,
)
from test_cli import harstream, one_line_error


def test_csv_round_trip_is_bit_exact(tmp_path, recording):
    part = Recording(recording.t[:500] + 1.7e9, recording.raw[:500], recording.labels[:500], "p")
    for name in ("r.csv", "r.csv.gz"):
        write_csv(part, tmp_path / name)
        back = read_csv(tmp_path / name)
        assert (back.t == part.t).all() and (back.raw == part.raw).all() and (back.labels == part.labels).all()


@pytest.mark.parametrize("text,message", [
    ("time,a,b\n1,2,3\n", "header must be"),
    ("t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n1,2,3\n", "expected 7 fields"),
    ("t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n1,2,3,x,5,6,7\n", "not a number"),
    ("t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n1,2,3,nan,5,6,7\n", "NaN"),
])
def test_bad_csv_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=message):
        read_csv(path)


def test_truncated_gzip_and_predict_on_garbage(tmp_path, model_path):
    path = tmp_path / "bad.csv.gz"
    whole = gzip.compress(b"t,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n" + b"1,2,3,4,5,6,7\n" * 1000)
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RecordingError, match="cannot read"):
        read_csv(path)
    assert "cannot read" in one_line_error(harstream("predict", path, "--model", model_path, check=False))


def test_window_truth_takes_the_majority():
    rec = Recording(np.arange(10) / 50, np.zeros((10, 6)), np.array(["A"] * 3 + ["B"] * 7, dtype=object))
    assert window_truth(rec, 0.0, 0.18) == "B" and window_truth(rec, 0.0, 0.04) == "A" and window_truth(rec, 5, 6) == ""
