"""knowledge.encoder: the multilingual sentence encoder, loaded from the installed wheel only."""
import socket
import threading

import numpy as np
import pytest

from knowledge import encoder


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Any attempt to open a network connection while the model loads fails the test."""
    original = socket.socket.connect

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"the encoder tried to reach the network: {args}")

    socket.socket.connect = refuse
    try:
        encoder.warm_up()
        yield
    finally:
        socket.socket.connect = original


def test_shape_dtype_and_norm():
    vectors = encoder.encode(["公积金怎么提取", "身份证丢了怎么补办", "", "營業執照"])
    assert vectors.shape == (4, encoder.DIM)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_list_and_string_argument():
    assert encoder.encode([]).shape == (0, encoder.DIM)
    with pytest.raises(TypeError):
        encoder.encode("公积金怎么提取")


def test_deterministic_and_batch_independent():
    model = encoder._model  # below the cache: the model itself must not mix sentences of one batch
    alone = model.encode(["社保卡丢了怎么补办"])[0]
    in_batch = model.encode(["结婚登记要带什么", "社保卡丢了怎么补办", "个体户注销"])[1]
    assert np.allclose(alone, in_batch, atol=1e-5)


@pytest.mark.parametrize("question, right, wrong", [
    ("社保卡丢了怎么补办", "社会保障卡补办 挂失", "住房公积金提取"),
    ("住房公积金贷款条件", "住房公积金个人住房贷款", "结婚登记"),
    ("孩子出生了怎么上户口", "出生登记 新生儿落户", "营业执照注销"),
])
def test_chinese_meaning_is_close(question, right, wrong):
    q, r, w = encoder.encode([question, right, wrong])
    assert float(q @ r) > float(q @ w) + 0.1


def test_one_model_per_process_under_threads():
    results, errors = {}, []

    def work(i):
        try:
            results[i] = encoder.encode([f"第{i}个问题：公积金怎么取"])[0]
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    first = encoder._model
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert encoder._model is first
    assert len(results) == 8
    for i, vector in results.items():
        assert np.allclose(vector, encoder.encode([f"第{i}个问题：公积金怎么取"])[0], atol=1e-5)


def test_repeated_texts_come_from_the_cache_and_stay_equal(monkeypatch):
    text = "缓存测试：公积金贷款怎么办"
    first = encoder.encode([text, text])
    assert np.array_equal(first[0], first[1])

    def fail(_texts):
        raise AssertionError("a cached text was encoded again")

    monkeypatch.setattr(encoder._model, "encode", fail)
    again = encoder.encode([text])
    assert np.array_equal(again[0], first[0])
    again[0][:] = 0  # the caller's copy, not the cache
    assert np.array_equal(encoder.encode([text])[0], first[0])
