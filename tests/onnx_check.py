"""ONNX Runtime and the `onnx` checker on a file written by `fer export` (tests/onnx_check.sh runs
this; it is the second engine, after tract in tests/e2e/onnx_export.rs, that checks an export).

    python onnx_check.py check MODEL.onnx FACES_DIR
        onnx.checker.check_model passes; scoring PrivateTest (FACES_DIR/pixels.u8 and labels.u8,
        the faces of FER2013_DIR/test/<emotion>/PrivateTest_*.jpg as fer decodes them, from
        `cargo run --example private_test_faces -- FER2013_DIR FACES_DIR`) gets exactly as many
        faces right as the PrivateTest accuracy the file's metadata records (what `fer train
        cnn` measured, and what `fer evaluate --split private-test` reproduces:
        tests/e2e/shipped_model.rs).
    python onnx_check.py bench MODEL.onnx FACES_DIR
        ONNX Runtime's speed on 2 threads: faces per second in batches of 256 and the latency
        of one face. Prints one JSON object.
"""
import json
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

# FER2013's labels in the model's output order; the file's metadata must say the same.
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BATCH = 256


def session(path, threads=2):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def private_test(faces_dir):
    """PrivateTest as fer decodes it, written by `cargo run --example private_test_faces`:
    decoding the JPEGs here (Pillow's libjpeg-turbo) gives up to one grey level of difference
    from fer's decoder (the image crate's) on every face, enough to move a prediction now and
    then, so both engines score the same bytes."""
    pixels = np.fromfile(os.path.join(faces_dir, "pixels.u8"), dtype=np.uint8)
    labels = np.fromfile(os.path.join(faces_dir, "labels.u8"), dtype=np.uint8).astype(np.int64)
    if len(labels) == 0 or pixels.size != len(labels) * 48 * 48:
        raise SystemExit(f"{faces_dir}: {pixels.size} pixels for {len(labels)} labels")
    return pixels.reshape(-1, 1, 48, 48).astype(np.float32), labels


def probabilities(sess, faces):
    out = [sess.run(["probabilities"], {"pixels": faces[i : i + BATCH]})[0]
           for i in range(0, len(faces), BATCH)]
    return np.concatenate(out)


def check(path, faces_dir):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    if json.loads(meta["emotions"]) != EMOTIONS:
        raise SystemExit(f"{path}: labels {meta['emotions']}, expected {EMOTIONS}")
    sess = session(path)
    faces, labels = private_test(faces_dir)
    p = probabilities(sess, faces)
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-5):
        raise SystemExit(f"{path}: probabilities do not sum to 1")
    correct = int((p.argmax(axis=1) == labels).sum())
    recorded = round(float(meta["private_test_accuracy"]) * len(labels))
    print(f"onnx_check: checker passed; ONNX Runtime {ort.__version__}: {correct} of "
          f"{len(labels)} PrivateTest faces right, fer recorded {recorded}")
    if correct != recorded:
        raise SystemExit(f"onnx_check: ONNX Runtime got {correct} right, fer {recorded}")


def bench(path, faces_dir, seconds=5.0):
    sess = session(path)
    faces, _ = private_test(faces_dir)
    batch = faces[:BATCH]
    one = faces[:1]
    for _ in range(3):  # warm-up
        sess.run(None, {"pixels": batch})
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        sess.run(None, {"pixels": batch})
        runs += 1
    batch_rate = runs * BATCH / (time.perf_counter() - started)
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds / 2:
        t0 = time.perf_counter()
        sess.run(None, {"pixels": one})
        latencies.append(time.perf_counter() - t0)
    print(json.dumps({
        "engine": f"onnxruntime {ort.__version__}",
        "threads": 2,
        "batch": BATCH,
        "faces_per_second": round(batch_rate, 1),
        "one_face_ms_median": round(1000 * float(np.median(latencies)), 3),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("check", "bench"):
        raise SystemExit(__doc__)
    {"check": check, "bench": bench}[sys.argv[1]](sys.argv[2], sys.argv[3])
