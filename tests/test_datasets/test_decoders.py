"""Generic annotation decoders: values, checks and errors naming the file."""
import cv2
import numpy as np
import pytest

from mmmtl.datasets.decoders import (AnnotationError, decode_annotation,
                                     normalize_vectors, register_decoder)


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
