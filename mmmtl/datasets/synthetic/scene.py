"""Render one synthetic scene: image and consistent maps for every task.

A camera at 1.5 m above a ground plane looks at the horizon; the upper part
of the image is sky (no depth, no normals), the lower part is the floor.
Objects stand on the floor (their image size and depth follow from where
they touch it): spheres, boxes (a tilted front face), pillars (vertical
cylinders), disks (tilted plates) and a person-like figure made of
cylinders and a sphere, whose pixels are labelled with Pascal-Part names.
A z-buffer composes them, so every map comes from the same geometry.
Normals are in camera coordinates: x right, y up, z towards the camera.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

SYNTHETIC_CLASSES = ('background', 'sphere', 'box', 'pillar', 'disk',
                     'person')
PERSON = SYNTHETIC_CLASSES.index('person')
# PASCAL-Context (459-class) ids written to ``LabelMap``: sky is outside the
# normals-valid list (its normals are masked), everything else inside it.
SKY_CONTEXT_ID = 1
CONTEXT_IDS = dict(floor=3, sphere=10, box=13, pillar=22, disk=34,
                   person=284)
PART_NAMES = ('hair', 'head', 'neck', 'torso', 'ruarm', 'luarm', 'rlarm',
              'llarm', 'rhand', 'lhand', 'ruleg', 'luleg', 'rlleg', 'llleg',
              'rfoot', 'lfoot')
PART_COLOURS = dict(hair=(0.15, 0.10, 0.05), head=(0.90, 0.70, 0.55),
                    neck=(0.90, 0.70, 0.55), torso=(0.60, 0.20, 0.65),
                    uarm=(0.85, 0.45, 0.85), larm=(0.95, 0.85, 0.45),
                    hand=(0.90, 0.70, 0.55), uleg=(0.15, 0.15, 0.50),
                    lleg=(0.10, 0.45, 0.45), foot=(0.05, 0.05, 0.05))
CLASS_COLOURS = dict(sphere=(0.85, 0.20, 0.15), box=(0.20, 0.65, 0.25),
                     pillar=(0.20, 0.30, 0.85), disk=(0.90, 0.80, 0.20))
SKY_COLOUR = np.array([0.60, 0.75, 0.95])
FLOOR_COLOUR = np.array([0.55, 0.42, 0.30])
LIGHT = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
CAMERA_HEIGHT = 1.5
MAX_DEPTH = 12.0


@dataclass
class Scene:
    """Composed buffers of one scene (all (S, S) or (S, S, 3))."""
    size: int
    depth: np.ndarray
    normals: np.ndarray
    semseg: np.ndarray
    context: np.ndarray
    instance: np.ndarray
    part: np.ndarray
    albedo: np.ndarray
    instance_classes: List[int] = field(default_factory=list)

    @classmethod
    def empty(cls, size: int) -> 'Scene':
        return cls(size=size,
                   depth=np.full((size, size), np.inf, np.float32),
                   normals=np.zeros((size, size, 3), np.float32),
                   semseg=np.zeros((size, size), np.uint8),
                   context=np.full((size, size), SKY_CONTEXT_ID, np.uint16),
                   instance=np.full((size, size), -1, np.int16),
                   part=np.full((size, size), -1, np.int16),
                   albedo=np.zeros((size, size, 3), np.float32))

    def grid(self, x0: float, x1: float, y0: float,
             y1: float) -> Optional[Tuple[slice, slice, np.ndarray,
                                          np.ndarray]]:
        """Pixel-centre grids of the clipped box [x0, x1) x [y0, y1)."""
        xa, xb = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), self.size)
        ya, yb = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)), self.size)
        if xa >= xb or ya >= yb:
            return None
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32) + 0.5
        return slice(ya, yb), slice(xa, xb), yy, xx

    def draw(self, region: Tuple[slice, slice], mask: np.ndarray,
             depth: np.ndarray, normals: np.ndarray, albedo: np.ndarray,
             cls: int, instance: int, part: np.ndarray = None) -> None:
        """Write the pixels of ``mask`` that are nearer than the buffer."""
        sy, sx = region
        win = mask & (depth < self.depth[sy, sx])
        self.depth[sy, sx][win] = depth[win]
        self.normals[sy, sx][win] = normals[win]
        self.albedo[sy, sx][win] = albedo[win]
        self.semseg[sy, sx][win] = cls
        self.context[sy, sx][win] = CONTEXT_IDS[SYNTHETIC_CLASSES[cls]]
        self.instance[sy, sx][win] = instance
        if part is not None:
            self.part[sy, sx][win] = part[win]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _sphere(scene: Scene, cx: float, cy: float, r: float, depth: float,
            radius_m: float):
    g = scene.grid(cx - r, cx + r, cy - r, cy + r)
    if g is None:
        return None
    sy, sx, yy, xx = g
    dx, dy = (xx - cx) / r, (yy - cy) / r
    mask = dx**2 + dy**2 < 1
    nz = np.sqrt(np.clip(1 - dx**2 - dy**2, 0, 1))
    normals = np.stack([dx, -dy, nz], -1)
    return (sy, sx), mask, depth - nz * radius_m, _unit(normals + 1e-6), yy, \
        xx, dy


def _cylinder(scene: Scene, cx: float, r: float, y0: float, y1: float,
              depth: float, radius_m: float):
    g = scene.grid(cx - r, cx + r, y0, y1)
    if g is None:
        return None
    sy, sx, yy, xx = g
    dx = (xx - cx) / r
    mask = np.abs(dx) < 1
    nz = np.sqrt(np.clip(1 - dx**2, 0, 1))
    normals = np.stack([dx, np.zeros_like(dx), nz], -1)
    return (sy, sx), mask, depth - nz * radius_m, _unit(normals + 1e-6), yy, \
        xx, dx


def _plane(scene: Scene, cx: float, cy: float, half_w: float, half_h: float,
           depth: float, normal: np.ndarray, ellipse: bool):
    g = scene.grid(cx - half_w, cx + half_w, cy - half_h, cy + half_h)
    if g is None:
        return None
    sy, sx, yy, xx = g
    u, v = (xx - cx) / half_w, (yy - cy) / half_h
    mask = (u**2 + v**2 < 1) if ellipse else (np.abs(u) < 1) & (np.abs(v) < 1)
    k = depth / scene.size
    z = depth + k * ((xx - cx) * normal[0] - (yy - cy) * normal[1]) / normal[2]
    normals = np.broadcast_to(normal, xx.shape + (3, )).astype(np.float32)
    return (sy, sx), mask, z.astype(np.float32), normals, yy, xx, u


def _shade(colour, shape, rng: np.random.Generator) -> np.ndarray:
    jitter = rng.uniform(0.9, 1.1, 3)
    return np.broadcast_to(np.clip(np.asarray(colour) * jitter, 0, 1),
                           shape + (3, )).astype(np.float32)


def _texture(cls_name: str, yy: np.ndarray, xx: np.ndarray,
             local: np.ndarray) -> np.ndarray:
    """Per-class brightness pattern (stripes, checkers) making classes visible.

    ``local`` is the primitive's own coordinate (in [-1, 1]) across it.
    """
    if cls_name == 'pillar':
        return 0.8 + 0.2 * (np.floor(local * 3 + 3) % 2)
    if cls_name == 'box':
        return 0.8 + 0.2 * (np.floor(yy / 3) % 2)
    if cls_name == 'disk':
        return 0.75 + 0.25 * ((np.floor(yy / 4) + np.floor(xx / 4)) % 2)
    return np.ones_like(yy)


def _add_object(scene: Scene, cls_name: str, cx: float, foot_y: float,
                depth: float, rng: np.random.Generator) -> None:
    cls = SYNTHETIC_CLASSES.index(cls_name)
    inst = len(scene.instance_classes)
    px = scene.size / depth  # pixels per metre at this depth
    colour = CLASS_COLOURS[cls_name]
    if cls_name == 'sphere':
        radius = rng.uniform(0.25, 0.45)
        out = _sphere(scene, cx, foot_y - radius * px, radius * px, depth,
                      radius)
    elif cls_name == 'pillar':
        radius, height = rng.uniform(0.12, 0.2), rng.uniform(0.8, 1.5)
        out = _cylinder(scene, cx, radius * px, foot_y - height * px, foot_y,
                        depth, radius)
    elif cls_name == 'box':
        angle = rng.uniform(-0.7, 0.7)
        half_w, half_h = rng.uniform(0.25, 0.45), rng.uniform(0.2, 0.45)
        normal = np.array([np.sin(angle), 0.0, np.cos(angle)], np.float32)
        out = _plane(scene, cx, foot_y - half_h * px, half_w * px,
                     half_h * px, depth, normal, ellipse=False)
    else:
        tilt = rng.uniform(0.2, 0.7)
        radius = rng.uniform(0.3, 0.45)
        normal = np.array([0.0, np.sin(tilt), np.cos(tilt)], np.float32)
        out = _plane(scene, cx, foot_y - radius * px, radius * px,
                     radius * px * np.cos(tilt), depth, normal, ellipse=True)
    if out is None:
        return
    region, mask, z, normals, yy, xx, local = out
    factor = _texture(cls_name, yy, xx, local)
    albedo = _shade(colour, mask.shape, rng) * factor[..., None]
    scene.draw(region, mask, z, normals, albedo, cls, inst)
    scene.instance_classes.append(cls)


def _add_person(scene: Scene, cx: float, foot_y: float, depth: float,
                rng: np.random.Generator) -> None:
    """A standing figure; parts in units of its pixel height ``h``."""
    inst = len(scene.instance_classes)
    h = scene.size * rng.uniform(1.5, 1.8) / depth
    top = foot_y - h
    m_per_px = depth / scene.size
    limbs = [  # name, colour key, x0, x1, y0, y1 (fractions of h)
        ('neck', 'neck', -0.03, 0.03, 0.12, 0.16),
        ('torso', 'torso', -0.10, 0.10, 0.16, 0.50),
        ('ruarm', 'uarm', -0.15, -0.10, 0.17, 0.34),
        ('luarm', 'uarm', 0.10, 0.15, 0.17, 0.34),
        ('rlarm', 'larm', -0.15, -0.10, 0.34, 0.49),
        ('llarm', 'larm', 0.10, 0.15, 0.34, 0.49),
        ('rhand', 'hand', -0.15, -0.10, 0.49, 0.54),
        ('lhand', 'hand', 0.10, 0.15, 0.49, 0.54),
        ('ruleg', 'uleg', -0.09, -0.01, 0.50, 0.73),
        ('luleg', 'uleg', 0.01, 0.09, 0.50, 0.73),
        ('rlleg', 'lleg', -0.09, -0.01, 0.73, 0.95),
        ('llleg', 'lleg', 0.01, 0.09, 0.73, 0.95),
        ('rfoot', 'foot', -0.10, -0.01, 0.95, 1.00),
        ('lfoot', 'foot', 0.01, 0.10, 0.95, 1.00),
    ]
    for name, colour, x0, x1, y0, y1 in limbs:
        r = (x1 - x0) * h / 2
        out = _cylinder(scene, cx + (x0 + x1) * h / 2, r, top + y0 * h,
                        top + y1 * h, depth, r * m_per_px)
        if out is None:
            continue
        region, mask, z, normals = out[:4]
        part = np.full(mask.shape, PART_NAMES.index(name), np.int16)
        scene.draw(region, mask, z, normals,
                   _shade(PART_COLOURS[colour], mask.shape, rng), PERSON,
                   inst, part)
    r = 0.065 * h
    out = _sphere(scene, cx, top + r, r, depth, r * m_per_px)
    if out is not None:
        region, mask, z, normals, _, _, dy = out
        hair = dy < -0.4
        part = np.where(hair, PART_NAMES.index('hair'),
                        PART_NAMES.index('head')).astype(np.int16)
        albedo = np.where(hair[..., None],
                          _shade(PART_COLOURS['hair'], mask.shape, rng),
                          _shade(PART_COLOURS['head'], mask.shape, rng))
        scene.draw(region, mask, z, normals, albedo, PERSON, inst, part)
    scene.instance_classes.append(PERSON)


def _background(scene: Scene, horizon: float,
                rng: np.random.Generator) -> None:
    s = scene.size
    rows = np.arange(s, dtype=np.float32) + 0.5
    floor_rows = rows > horizon
    dist = CAMERA_HEIGHT * s / np.maximum(rows - horizon, 1e-3)
    floor_depth = np.minimum(dist, MAX_DEPTH)
    scene.depth[floor_rows] = floor_depth[floor_rows, None]
    scene.normals[floor_rows] = (0.0, 1.0, 0.0)
    scene.context[floor_rows] = CONTEXT_IDS['floor']
    blotches = rng.normal(0, 1, (s // 8 + 1, s // 8 + 1))
    texture = np.kron(blotches, np.ones((8, 8)))[:s, :s]
    floor = FLOOR_COLOUR * rng.uniform(0.9, 1.1, 3)
    scene.albedo[:] = np.clip(floor * (1 + 0.08 * texture[..., None]), 0, 1)
    sky_rows = ~floor_rows
    fade = (rows / max(horizon, 1))[:, None]
    scene.albedo[sky_rows] = np.clip(
        SKY_COLOUR + 0.2 * fade[sky_rows], 0, 1)[:, None, :]


def render_scene(size: int, rng: np.random.Generator,
                 person_prob: float = 0.75) -> Dict[str, np.ndarray]:
    """Render one random scene.

    Returns:
        dict with ``image`` uint8 (S, S, 3) RGB, ``semseg`` uint8 (S, S)
        (:data:`SYNTHETIC_CLASSES`), ``context`` uint16 (S, S) PASCAL-Context
        ids, ``depth`` float32 (S, S) metres (0 = sky), ``normals`` float32
        (S, S, 3) (zero on sky), ``saliency`` uint8 (S, S) 0/1 (objects),
        ``instance`` int16 (S, S) (-1 = none), ``part`` int16 (S, S) index
        in :data:`PART_NAMES` (-1 = none) and ``instance_classes`` (list).
    """
    scene = Scene.empty(size)
    horizon = size * rng.uniform(0.3, 0.45)
    _background(scene, horizon, rng)
    kinds = ['sphere', 'box', 'pillar', 'disk']
    objects = [kinds[k] for k in rng.integers(0, 4, rng.integers(2, 5))]
    if rng.random() < person_prob:
        objects.append('person')
    placed = []
    for name in objects:
        foot_y = horizon + (size - horizon) * rng.uniform(0.35, 0.98)
        placed.append((name, size * rng.uniform(0.12, 0.88), foot_y))
    for name, cx, foot_y in placed:
        depth = CAMERA_HEIGHT * size / (foot_y - horizon)
        if name == 'person':
            _add_person(scene, cx, foot_y, depth, rng)
        else:
            _add_object(scene, name, cx, foot_y, depth, rng)
    sky = ~np.isfinite(scene.depth)
    scene.depth[sky] = 0.0
    shading = 0.3 + 0.7 * np.clip(scene.normals @ LIGHT, 0, 1)
    shading[sky] = 1.0
    fog = np.clip((scene.depth - 2.0) / 15.0, 0, 0.5)[..., None]
    colour = scene.albedo * shading[..., None]
    colour = (1 - fog) * colour + fog * SKY_COLOUR
    colour = colour + rng.normal(0, 0.025, colour.shape)
    image = np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8)
    return dict(image=image, semseg=scene.semseg, context=scene.context,
                depth=scene.depth, normals=scene.normals,
                saliency=(scene.instance >= 0).astype(np.uint8),
                instance=scene.instance, part=scene.part,
                instance_classes=scene.instance_classes)
