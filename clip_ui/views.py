"""What the app draws for one clip: its frames scaled to a rectangle, or its text wrapped.

Frames are decoded once per query (MP4 through opencv) and scaled once per window size, so
the loop only blits prepared surfaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pygame

from pbrl.media import MediaError, read_mp4
from pbrl.store_base import LabelStore


@dataclass
class ClipView:
    """One clip as shown: RGB frames at ``fps``, or text."""

    clip_id: str
    frames: list[np.ndarray] = field(default_factory=list)
    fps: float = 30.0
    text: str | None = None
    _scaled: list[pygame.Surface] = field(default_factory=list)
    _scaled_for: tuple[int, int] | None = None

    def surfaces(self, size: tuple[int, int]) -> list[pygame.Surface]:
        """The frames scaled to fit ``size`` (aspect kept), made once per size."""
        if self._scaled_for != size:
            height, width = self.frames[0].shape[:2]
            scale = min(size[0] / width, size[1] / height)
            target = (max(1, int(width * scale)), max(1, int(height * scale)))
            self._scaled = [pygame.transform.smoothscale(pygame.surfarray.make_surface(f.swapaxes(0, 1)), target)
                            for f in self.frames]
            self._scaled_for = size
        return self._scaled

    def index_at(self, seconds: float, period: int | None = None) -> int:
        """Which frame is on screen ``seconds`` into a loop of ``period`` frames (default: the
        clip's own); a clip whose episode ended before the period's end holds its last frame."""
        if not self.frames:
            return 0
        return min(int(seconds * self.fps) % (period or len(self.frames)), len(self.frames) - 1)

    def frame_at(self, seconds: float, size: tuple[int, int], period: int | None = None) -> pygame.Surface:
        """The frame on screen ``seconds`` into the loop."""
        return self.surfaces(size)[self.index_at(seconds, period)]


def load_views(store: LabelStore, clip_ids: tuple[str, ...]) -> list[ClipView]:
    """The views of a query's clips; :class:`MediaError` names the file that is missing or corrupt."""
    views = []
    for clip_id in clip_ids:
        try:
            media, text = store.clip_media(clip_id)
            path = store.media_path(clip_id) if text is None and media is not None else None
        except KeyError as exc:
            raise MediaError(f"clip {clip_id} is not in the store") from exc
        except FileNotFoundError as exc:
            raise MediaError(str(exc)) from exc
        if text is not None:
            views.append(ClipView(clip_id, text=text))
        elif path is not None:
            frames, fps = read_mp4(path)
            views.append(ClipView(clip_id, frames, fps))
        else:
            raise MediaError(f"clip {clip_id} has neither a media file nor text")
    return views


def wrap_text(text: str, font: pygame.font.Font, width: int) -> list[str]:
    """Lines of ``text`` that fit ``width`` pixels (paragraphs kept, long words split)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if font.size(candidate)[0] <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.size(word)[0] > width and len(word) > 1:  # a word wider than the box
                cut = max(1, int(len(word) * width / font.size(word)[0]))
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines
