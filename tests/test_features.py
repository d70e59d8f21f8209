import keras
import numpy as np
import pytest

from tlhelpers import config, features, models


@pytest.fixture
def tiny_base():
    config.set_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, x, name="tiny_base")


def test_array_digest_changes_with_content_shape_and_dtype():
    a = np.arange(6, dtype="float32")
    assert features.array_digest(a) == features.array_digest(a.copy())
    assert features.array_digest(a) != features.array_digest(a + 1)
    assert features.array_digest(a) != features.array_digest(a.reshape(2, 3))
    assert features.array_digest(a) != features.array_digest(a.astype("float64"))


def test_feature_key_depends_on_every_part():
    parts = ["m", "w", "d", "tf", (8, 8)]
    key = features.feature_key(*parts)
    assert len(key) == 24
    for i, other in enumerate(["m2", "w2", "d2", "caffe", (9, 8)]):
        changed = list(parts)
        changed[i] = other
        assert features.feature_key(*changed) != key


def test_weights_digest_sees_a_changed_weight(tiny_base):
    before = features.weights_digest(tiny_base)
    kernel, bias = tiny_base.layers[1].get_weights()
    tiny_base.layers[1].set_weights([kernel + 1e-3, bias])
    assert features.weights_digest(tiny_base) != before


def test_extract_features_from_arrays_tuples_and_datasets(tiny_base):
    import tensorflow as tf

    m = features.feature_extractor(tiny_base, "tf")
    images = np.random.default_rng(0).uniform(0, 255, (10, 8, 8, 3)).astype("float32")
    labels = np.arange(10)
    h, none = features.extract_features(m, images, batch_size=4, progress=False)
    assert none is None and h.shape == (10, 6, 6, 4)
    h2, y2 = features.extract_features(m, (images, labels), batch_size=3, progress=False)
    np.testing.assert_allclose(h2, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y2, labels)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    h3, y3 = features.extract_features(m, ds, progress=False)
    np.testing.assert_allclose(h3, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y3, labels)
    expected = tiny_base(models.Preprocess("tf")(images), training=False)
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6)


def test_extract_features_rejects_empty_data(tiny_base):
    with pytest.raises(ValueError, match="no images"):
        features.extract_features(tiny_base, np.zeros((0, 8, 8, 3)), progress=False)


def test_cached_features_miss_then_hit(tiny_base, tmp_path):
    m = features.feature_extractor(tiny_base, "tf")
    images = np.random.default_rng(1).uniform(0, 255, (6, 8, 8, 3)).astype("float32")
    labels = np.array([0, 1, 0, 1, 0, 1])
    data_id = features.array_digest(images)
    first = features.cached_features(m, (images, labels), data_id, "tf", folder=tmp_path,
                                     progress=False)
    assert not first.from_cache and first.path.is_file()
    second = features.cached_features(m, None, data_id, "tf", folder=tmp_path, progress=False,
                                      labels="int int64")
    assert second.from_cache and second.key == first.key
    np.testing.assert_array_equal(second.features, first.features)
    np.testing.assert_array_equal(second.labels, labels)
    third = features.cached_features(m, images, "other data", "tf", folder=tmp_path,
                                     progress=False)
    assert not third.from_cache and third.labels is None and third.key != first.key
    with pytest.raises(ValueError, match="no data to compute them from"):
        features.cached_features(m, None, "never cached", "tf", folder=tmp_path,
                                 labels="none")
    with pytest.raises(ValueError, match="Received `data=None` and `labels=None`"):
        features.cached_features(m, None, data_id, "tf", folder=tmp_path)


def test_the_cache_key_includes_the_label_format(tiny_base, tmp_path):
    """The same images with one-hot labels must not be read back with integer labels."""
    m = features.feature_extractor(tiny_base, "tf")
    images = np.random.default_rng(1).uniform(0, 255, (6, 8, 8, 3)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    one_hot = keras.utils.to_categorical(labels, 3).astype("float32")
    data_id = features.array_digest(images)
    as_int = features.cached_features(m, (images, labels), data_id, "tf", folder=tmp_path,
                                      progress=False)
    as_one_hot = features.cached_features(m, (images, one_hot), data_id, "tf",
                                          folder=tmp_path, progress=False)
    assert not as_one_hot.from_cache and as_one_hot.key != as_int.key
    assert as_one_hot.labels.shape == (6, 3)
    assert features.label_format((images, one_hot)) == "one-hot float32 x3"
    assert features.label_format((images, labels)) == "int int64"
    assert features.label_format(images) == "none"
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, one_hot)).batch(4)
    assert features.label_format(ds) == "one-hot float32 x3"


def test_extractor_of_a_small_network_and_the_imagenet_extractor(tiny_base):
    from tlhelpers import convnets

    network = convnets.build_small_cnn((16, 16, 1), 3, conv_filters=(4,), dense_units=(5,))
    m_source = features.extractor_of(network)
    assert m_source.output_shape == (None, 5) and m_source.name == "M_small_cnn"
    with pytest.raises(ValueError, match="no layer 'pool9'"):
        features.extractor_of(network, "pool9")
    grey = np.random.default_rng(0).uniform(0, 255, (2, 12, 12, 1)).astype("float32")
    m_imagenet = features.imagenet_extractor(tiny_base, "tf", (12, 12, 1))
    h = features.extract_features(m_imagenet, grey, progress=False)[0]
    assert h.shape == (2, 4)
    rgb = np.repeat(keras.ops.convert_to_numpy(
        keras.layers.Resizing(8, 8)(grey)), 3, axis=-1)
    expected = keras.ops.convert_to_numpy(features.feature_extractor(tiny_base, "tf")(rgb))
    np.testing.assert_allclose(h, expected.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"input_shape=\(12, 12, 2\)"):
        features.imagenet_extractor(tiny_base, "tf", (12, 12, 2))


def test_train_head_on_features_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(64, 5)).astype("float32")
    y = (h[:, 0] > 0).astype("int64")
    config.set_seed(0)
    head = models.build_head(2, hidden_units=0)
    history = features.train_head_on_features(head, h, y, epochs=30, learning_rate=0.05,
                                              verbose=False)
    assert history.history["accuracy"][-1] > 0.9
    with pytest.raises(ValueError, match="5 feature rows but 4 labels"):
        features.train_head_on_features(head, h[:5], y[:4], verbose=False)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embed_2d_shapes_and_repeats(method):
    h = np.random.default_rng(0).normal(size=(40, 3, 2))
    a = features.embed_2d(h, method, seed=0)
    assert a.shape == (40, 2)
    np.testing.assert_allclose(features.embed_2d(h, method, seed=0), a)


def test_embed_2d_rejects_unknown_method():
    with pytest.raises(ValueError, match="method='umap'"):
        features.embed_2d(np.zeros((4, 2)), "umap")


def test_linear_probe_matches_scikit_learn_and_predicts_as_a_keras_head():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    h = rng.normal(size=(60, 2, 2)).astype("float32")
    y = np.argmax(h.reshape(60, -1)[:, :3], axis=1)
    head = features.linear_probe(h, y, num_classes=3)
    reference = LogisticRegression(max_iter=5000).fit(h.reshape(60, -1), y)
    flat = h.reshape(60, -1)
    np.testing.assert_allclose(head.predict(h, verbose=0), reference.predict_proba(flat),
                               atol=1e-5)
    binary = features.linear_probe(h, (y > 0).astype(int))
    ref2 = LogisticRegression(max_iter=5000).fit(flat, y > 0)
    np.testing.assert_allclose(binary.predict(h, verbose=0), ref2.predict_proba(flat), atol=1e-5)


def test_linear_probe_checks_labels():
    with pytest.raises(ValueError, match="Classes \\[2\\] have no training example"):
        features.linear_probe(np.zeros((4, 2)), np.array([0, 1, 0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="3 feature rows but 4 labels"):
        features.linear_probe(np.zeros((3, 2)), np.array([0, 1, 0, 1]))


def test_files_digest_sees_renames_and_edits(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"123")
    first = features.files_digest([a])
    a.write_bytes(b"124")
    assert features.files_digest([a]) != first
    b = tmp_path / "b.png"
    b.write_bytes(b"124")
    assert features.files_digest([b]) != features.files_digest([a])
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    as_cat = a.rename(tmp_path / "cat" / "a.png")
    as_dog = tmp_path / "dog" / "a.png"  # the same name and bytes, in another class
    as_dog.write_bytes(as_cat.read_bytes())
    assert features.files_digest([as_cat]) != features.files_digest([as_dog])
