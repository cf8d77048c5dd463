"""Generic annotation decoders: values, checks and errors naming the file."""
import cv2
import numpy as np
import pytest

from dataset_fixtures import deny_reading

from mmmtl.datasets.decoders import (AnnotationError, ChannelError,
                                     MissingFileError, ValueRangeError,
                                     decode_annotation, normalize_vectors,
                                     register_decoder)


def test_png_label_and_range_check(tmp_path):
    path = str(tmp_path / 'label.png')
    label = np.array([[0, 3, 255], [20, 1, 2]], np.uint8)
    cv2.imwrite(path, label)
    out = decode_annotation('semseg', dict(type='png_label', path=path,
                                           num_classes=21))
    assert out.dtype == np.uint8 and np.array_equal(out, label)
    with pytest.raises(AnnotationError, match=r'\[20\] out of range for 5 '
                       r'classes .*label\.png'):
        decode_annotation('semseg', dict(type='png_label', path=path,
                                         num_classes=5))


def test_png_binary_threshold(tmp_path):
    path = str(tmp_path / 'sal.png')
    cv2.imwrite(path, np.array([[0, 127, 128, 255]], np.uint8))
    out = decode_annotation('saliency', dict(type='png_binary', path=path))
    assert out.tolist() == [[0, 0, 1, 1]]


def test_png_normals_decoding(tmp_path):
    path = str(tmp_path / 'normals.png')
    rgb = np.array([[[255, 128, 128], [128, 128, 128]]], np.uint8)
    cv2.imwrite(path, rgb[..., ::-1])  # cv2 writes BGR
    out = decode_annotation('normals', dict(type='png_normals', path=path))
    raw = 2 * rgb.astype(np.float32) / 255 - 1
    expected = raw[0, 0] / np.linalg.norm(raw[0, 0])
    assert np.allclose(out[0, 0], expected, atol=1e-6)
    assert np.allclose(out[0, 1], raw[0, 1] / np.linalg.norm(raw[0, 1]))
    zero = normalize_vectors(np.zeros((1, 1, 3), np.float32))
    assert np.array_equal(zero, np.zeros((1, 1, 3)))


def test_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(AnnotationError, match='file not found: .*nope.png'):
        decode_annotation('semseg', dict(type='png_label', path=missing))
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(AnnotationError, match='cannot decode .*broken.png'):
        decode_annotation('semseg', dict(type='png_label', path=str(broken)))
    with pytest.raises(KeyError, match="unknown annotation decoder 'tiff'"):
        decode_annotation('semseg', dict(type='tiff', path=missing))
    with pytest.raises(KeyError, match='unknown task'):
        decode_annotation('albedo', dict(type='png_label', path=missing))


def test_kind_checks_on_custom_decoders(tmp_path):
    @register_decoder('test_binary_twos')
    def twos(path):
        return np.full((2, 2), 2, np.uint8)

    @register_decoder('test_flat_normals')
    def flat(path):
        return np.zeros((2, 2), np.float32)

    with pytest.raises(AnnotationError, match='other than 0/1/255'):
        decode_annotation('edges', dict(type='test_binary_twos', path='x'))
    with pytest.raises(AnnotationError, match=r'expected \(H, W, 3\)'):
        decode_annotation('normals', dict(type='test_flat_normals', path='x'))
    with pytest.raises(KeyError, match='already registered'):
        register_decoder('test_flat_normals')(flat)


def test_png_binary_accepts_grey_stored_as_rgb(tmp_path):
    path = str(tmp_path / 'sal_rgb.png')
    grey = np.array([[0, 200], [90, 255]], np.uint8)
    cv2.imwrite(path, np.stack([grey] * 3, axis=2))
    out = decode_annotation('saliency', dict(type='png_binary', path=path))
    assert out.tolist() == [[0, 1], [0, 1]]


COLOUR = np.dstack([np.zeros((2, 3), np.uint8)] * 2 +
                   [np.full((2, 3), 255, np.uint8)])


@pytest.mark.parametrize('task,decoder,array,expected', [
    ('normals', 'png_normals', np.full((2, 3), 128, np.uint8),
     r"expected a 3-channel \(RGB\) normals PNG, got shape \(2, 3\)"),
    ('normals', 'png_normals', np.full((2, 3, 4), 128, np.uint8),
     r'got shape \(2, 3, 4\)'),
    ('normals', 'png_normals', np.full((2, 3, 3), 900, np.uint16),
     'expected an 8-bit image, got uint16'),
    ('saliency', 'png_binary', COLOUR, 'single-channel .* differing'),
])
def test_wrong_channels_are_an_error_not_broadcast(tmp_path, task, decoder,
                                                   array, expected):
    path = tmp_path / 'map.png'
    cv2.imwrite(str(path), array)
    with pytest.raises(ChannelError, match=expected) as err:
        decode_annotation(task, dict(type=decoder, path=str(path)))
    assert str(path) in str(err.value)
    assert err.value.problem == 'wrong number of channels'


def test_generic_decoder_output_must_fit_the_task_kind(tmp_path):
    path = tmp_path / 'depth.npy'
    np.save(path, np.ones((2, 3, 3), np.float32))
    with pytest.raises(ChannelError, match=r"task 'depth': expected a "
                       r'single-channel \(H, W\) map, got \(2, 3, 3\)'):
        decode_annotation('depth', dict(type='npy', path=str(path)))
    label = tmp_path / 'label16.png'
    cv2.imwrite(str(label), np.full((2, 2), 300, np.uint16))
    with pytest.raises(ValueRangeError, match='above 255 .*label16.png'):
        decode_annotation('semseg', dict(type='png_label', path=str(label)))


def test_unreadable_file_is_not_reported_as_corrupted(tmp_path, monkeypatch):
    path = tmp_path / 'locked.png'
    cv2.imwrite(str(path), np.zeros((2, 2), np.uint8))
    deny_reading(monkeypatch, path)
    with pytest.raises(AnnotationError) as err:
        decode_annotation('semseg', dict(type='png_label', path=str(path)))
    assert str(err.value) == f'cannot read file {path}: Permission denied'
    assert err.value.problem == 'unreadable file'
    missing = tmp_path / 'gone.png'
    with pytest.raises(MissingFileError, match='file not found'):
        decode_annotation('semseg', dict(type='png_label', path=str(missing)))
